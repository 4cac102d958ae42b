"""The vector index kinds a migration can build, and how each is searched (issue 23).

* ``hnsw`` (the default): HNSW on the vector, with the collection's own m and ef_construction; above 2,000
  dimensions on ``embedding::halfvec(d)`` (recorded as ``hnsw_halfvec``). Knob: ``hnsw.ef_search``.
* ``ivfflat``: IVFFlat with ``lists`` sized from the rows as pgvector advises (rows / 1,000 up to 1M rows,
  √rows above); searched at ``ivfflat.probes``, by default √lists. Builds in a fraction of HNSW's time; recall
  depends on probes far more than HNSW's does on ef_search.
* ``hnsw_halfvec``: HNSW on ``embedding::halfvec(d)``: half the index, half the bytes a search touches. The
  index only finds candidates (``hnsw.ef_search`` of them): they are re-ordered by the full-precision distance of
  the stored ``vector``, so the distances and the order of the top k are exact. The same holds for ``hnsw`` and
  ``ivfflat`` above 2,000 dimensions, whose index is on halfvec too (the column stays ``vector(d)``).
* ``hnsw_bit_rerank``: HNSW over ``binary_quantize(embedding)::bit(d)`` (Hamming distance, 1 bit a dimension);
  the nearest ``depth`` candidates are re-ranked by the full vector. Knob: the re-rank depth (``hnsw.ef_search``
  follows it).

Every statement here is composed with :mod:`psycopg.sql`; the session settings are ``SET LOCAL`` or
``set_config`` values, never text pasted into SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from psycopg import sql

from vectorops.load.hnsw_params import HNSW_KINDS as HNSW_KINDS  # the kinds that take m and ef_construction
from vectorops.quality.exact_search import DISTANCE_OPERATORS

KINDS = ("hnsw", "ivfflat", "hnsw_halfvec", "hnsw_bit_rerank")
#: what :func:`vectorops.load.indexing.build_index` records: the kinds, and ``hnsw_halfvec`` for ``hnsw`` above
#: 2,000 dimensions
METHODS = KINDS
KNOBS = {"hnsw": "hnsw.ef_search", "hnsw_halfvec": "hnsw.ef_search", "ivfflat": "ivfflat.probes",
         "hnsw_bit_rerank": "re-rank depth"}
OPCLASS = {"l2": "vector_l2_ops", "cosine": "vector_cosine_ops", "ip": "vector_ip_ops"}
HALFVEC_OPCLASS = {"l2": "halfvec_l2_ops", "cosine": "halfvec_cosine_ops", "ip": "halfvec_ip_ops"}
VECTOR_INDEX_MAX_DIMS = 2000
HALFVEC_INDEX_MAX_DIMS = 4000
BIT_INDEX_MAX_DIMS = 64000
MAX_EF_SEARCH = 1000  # pgvector's limit of hnsw.ef_search
DEFAULT_RERANK_DEPTH = 200
#: the candidates an IVFFlat index on halfvec hands to the re-rank (the probed lists' rows come sorted anyway)
IVFFLAT_RERANK_DEPTH = 100
#: the re-rank depths the monitor tries, ascending (at most hnsw.ef_search's limit)
RERANK_LADDER = (20, 40, 80, 120, 200, 320, 500, 800, 1000)


#: what a vector index's name appends to its table's, per kind family (see :func:`index_suffix`)
SUFFIXES = ("_hnsw", "_ivf")


def index_suffix(kind: str) -> str:
    """What the index's name appends to its table's: ``_ivf`` for IVFFlat, ``_hnsw`` for the HNSW kinds."""
    return "_ivf" if kind == "ivfflat" else "_hnsw"


def graph_dimensions(kind: str, dimensions: int) -> int:
    """The float32 dimensions whose HNSW element is as large in memory as one of ``kind``'s, for sizing
    ``maintenance_work_mem``: the vector's for ``hnsw`` and ``hnsw_halfvec`` (a halfvec build is sized as a full one,
    a margin), an eighth for bits: a 384-dimension bit graph of 200,000 elements outgrew 123 MB after 170,937 of
    them (about 755 bytes an element, mostly neighbour lists), which a 48-dimension float32 estimate covers."""
    return max(1, dimensions // 8) if kind == "hnsw_bit_rerank" else dimensions


def check_kind(value: object, setting: str = "index") -> str:
    """``value`` when it names an index kind.

    :param value: the asked-for kind.
    :param setting: the parameter or flag it came from, for the error.
    :raises ValueError: naming the setting, the value and the kinds.
    """
    if value not in KINDS:
        raise ValueError(f"{setting}={value!r} is not one of {', '.join(KINDS)}")
    return str(value)


def ivfflat_lists(rows: int) -> int:
    """IVFFlat ``lists`` for ``rows`` rows: rows / 1,000 up to 1M rows, √rows above (pgvector's README), at least 1."""
    return max(1, rows // 1000 if rows <= 1_000_000 else math.isqrt(rows))


def default_probes(lists: int) -> int:
    """``ivfflat.probes`` to search at by default: √lists (pgvector's README), at least 1."""
    return math.isqrt(max(1, lists) - 1) + 1  # ⌈√lists⌉


def probe_ladder(lists: int) -> tuple[int, ...]:
    """The ``ivfflat.probes`` the monitor tries, ascending: powers of two from 1, then every list."""
    rungs = [1 << n for n in range(20) if 1 << n < lists]
    return (*rungs, max(1, lists))


@dataclass(frozen=True)
class IndexedColumn:
    """What the index is built on, and how a query vector is compared with it.

    :param kind: the method recorded (one of :data:`METHODS`).
    :param space: the Chroma space (``l2``, ``cosine``, ``ip``).
    :param dimensions: the vectors' length.
    """

    kind: str
    space: str
    dimensions: int

    @property
    def halfvec(self) -> bool:
        """Whether the index holds ``halfvec`` (the kind asks for it, or the vectors are too long for ``vector``)."""
        return self.kind == "hnsw_halfvec" or (self.kind in ("hnsw", "ivfflat")
                                               and self.dimensions > VECTOR_INDEX_MAX_DIMS)

    @property
    def bits(self) -> bool:
        """Whether the index holds one bit a dimension (``hnsw_bit_rerank``)."""
        return self.kind == "hnsw_bit_rerank"

    @property
    def reranked(self) -> bool:
        """Whether the index's candidates are re-ordered by the full vector (``halfvec`` and bit indexes)."""
        return self.halfvec or self.bits

    def expression(self) -> sql.Composable:
        """The indexed expression: ``embedding``, ``(embedding::halfvec(d))`` or the binary quantisation."""
        if self.bits:
            return sql.SQL("(binary_quantize(embedding)::bit({}))").format(sql.Literal(self.dimensions))
        if self.halfvec:
            return sql.SQL("(embedding::halfvec({}))").format(sql.Literal(self.dimensions))
        return sql.SQL("embedding")

    def opclass(self) -> sql.Composable:
        """The operator class of the index."""
        if self.bits:
            return sql.SQL("bit_hamming_ops")
        return sql.SQL((HALFVEC_OPCLASS if self.halfvec else OPCLASS)[self.space])

    def order(self, query: sql.Composable) -> sql.Composable:
        """The ``ORDER BY`` expression the index serves, for the query vector ``query`` (a ``vector`` value)."""
        if self.bits:
            return sql.SQL("{} <~> binary_quantize({})").format(self.expression(), query)
        operator = sql.SQL(DISTANCE_OPERATORS[self.space])
        if self.halfvec:
            return sql.SQL("{} {} ({}::halfvec({}))").format(self.expression(), operator, query,
                                                            sql.Literal(self.dimensions))
        return sql.SQL("embedding {} {}").format(operator, query)

    def indexable(self) -> bool:
        """Whether pgvector can index vectors this long in this kind."""
        limit = BIT_INDEX_MAX_DIMS if self.bits else HALFVEC_INDEX_MAX_DIMS
        return self.dimensions <= limit


def distance(space: str, query: sql.Composable) -> sql.Composable:
    """The full-precision distance of ``embedding`` to ``query`` in ``space``."""
    return sql.SQL("embedding {} {}").format(sql.SQL(DISTANCE_OPERATORS[space]), query)


def nearest_ids(column: IndexedColumn, table: sql.Composable, query: sql.Composable, where: sql.Composable,
                limit: sql.Composable, depth: sql.Composable) -> sql.Composed:
    """``SELECT id`` of the nearest rows through the index: ``ORDER BY`` the indexed expression, and for a
    re-ranked kind the nearest ``depth`` candidates re-ordered by the full vector.

    :param column: the index's column.
    :param table: the table.
    :param query: the query vector's placeholder (a ``vector``).
    :param where: a condition (``TRUE`` for none).
    :param limit: the placeholder of the number of ids.
    :param depth: the placeholder of the candidates a re-ranked kind re-orders (ignored otherwise).
    """
    if not column.reranked:
        return sql.SQL("SELECT id FROM {table} WHERE {where} ORDER BY {order} LIMIT {limit}").format(
            table=table, where=where, order=column.order(query), limit=limit)
    return sql.SQL("SELECT id FROM (SELECT id, embedding FROM {table} WHERE {where} ORDER BY {order} LIMIT {depth}) "
                   "AS candidates ORDER BY {distance}, id LIMIT {limit}").format(
        table=table, where=where, order=column.order(query), depth=depth,
        distance=distance(column.space, query), limit=limit)


def rerank_depth(column: IndexedColumn, effort: int, k: int) -> int:
    """The candidates a re-ranked search takes from the index before re-ordering them by the full vector: the
    knob's value (the bits' re-rank depth, the halfvec graph's ``hnsw.ef_search``), at least ``k``; for IVFFlat on
    halfvec (above 2,000 dimensions), whose knob counts lists, :data:`IVFFLAT_RERANK_DEPTH`, at least ``k``.

    A halfvec index re-ranks its whole candidate list too, not just its own top ``k``: its distances are off in
    the fourth significant digit, so a row the full vector puts in the top ``k`` can be ranked just below it by
    the index where neighbours are nearly tied; re-ordering only ``k`` candidates returned a top ``k`` other than
    exact search's (3 of 60 queries, issue 26). The graph search finds ``hnsw.ef_search`` candidates anyway;
    re-ranking them costs reading their full vectors.

    :param column: the index's column (its depth is ignored unless :attr:`IndexedColumn.reranked`).
    :param effort: the knob's value.
    :param k: the results asked for.
    """
    if column.kind == "ivfflat":
        return max(IVFFLAT_RERANK_DEPTH, k)
    return max(int(effort), k)


def search_settings(kind: str, effort: int) -> tuple[tuple[str, str], ...]:
    """The session settings that search ``kind`` at ``effort`` (ef_search, probes or re-rank depth), with the
    iterative scan on so that a filter does not starve the result.

    :param kind: the method recorded.
    :param effort: the knob's value.
    """
    if kind == "ivfflat":
        return (("ivfflat.probes", str(int(effort))), ("ivfflat.iterative_scan", "relaxed_order"))
    return (("hnsw.ef_search", str(min(MAX_EF_SEARCH, int(effort)))), ("hnsw.iterative_scan", "relaxed_order"))


def default_effort(kind: str, *, ef_search: int, lists: int | None, k: int = 10) -> int:
    """The knob's value a search uses when nobody tuned it: the collection's ef_search (HNSW kinds, at least k),
    √lists probes (IVFFlat), :data:`DEFAULT_RERANK_DEPTH` (bits, at least k).

    :param kind: the method recorded.
    :param ef_search: the collection's own ``hnsw.ef_search``.
    :param lists: the IVFFlat index's lists (``None``: unknown, 100 assumed).
    :param k: the results asked for.
    """
    if kind == "ivfflat":
        return default_probes(lists or 100)
    if kind == "hnsw_bit_rerank":
        return min(MAX_EF_SEARCH, max(DEFAULT_RERANK_DEPTH, k))
    return min(MAX_EF_SEARCH, max(ef_search, k))
