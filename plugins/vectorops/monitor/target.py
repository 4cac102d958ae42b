"""What the monitor probes: a collection's live table, its vector index as the catalog has it (any kind of
:mod:`vectorops.load.index_kinds`), and the value of that kind's search knob."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from vectorops.db.rows import one_row, one_value
from vectorops.db.sql_files import sql_text
from vectorops.errors import RequestError, SettingError
from vectorops.load import index_kinds
from vectorops.load.index_kinds import MAX_EF_SEARCH, IndexedColumn

PGVECTOR_DEFAULT_EF_SEARCH = 40  # hnsw.ef_search when nothing sets it
PGVECTOR_DEFAULT_LISTS = 100  # an IVFFlat index's lists when its build did not say
EF_SEARCH_KNOB = "hnsw.ef_search"

__all__ = ["MAX_EF_SEARCH", "ProbeTarget", "index_kind", "load_target", "select_live_collections", "table_stats"]


@dataclass(frozen=True)
class ProbeTarget:
    """One live table to probe.

    :param collection: the Chroma collection the table was migrated from.
    :param schema: the table's schema.
    :param table: the live table.
    :param dimensions: vector width from the registry; ``None`` for a collection that was empty when migrated
        (nothing to probe: see :attr:`empty`).
    :param space: ``l2`` | ``cosine`` | ``ip``.
    :param attempt_id: the registry's ``last_attempt_id`` (the probe set is resampled when it changes).
    :param index_name: the vector index found in the catalog, ``None`` when the table has none.
    :param index_valid: whether that index is valid and ready.
    :param kind: the index's kind as the catalog shows it (one of :data:`~vectorops.load.index_kinds.METHODS`);
        ``None`` without an index.
    :param index_bytes: its size.
    :param ef_search: the value of the kind's knob (:attr:`knob`) to probe at: ``hnsw.ef_search``,
        ``ivfflat.probes`` or the re-rank depth; ``None`` without an index.
    :param ef_source: where that value came from: ``setting``, ``registry``, ``pgvector default`` or
        ``kind default``.
    :param lists: an IVFFlat index's lists (``None`` for the HNSW kinds).
    """

    collection: str
    schema: str
    table: str
    dimensions: int | None
    space: str
    attempt_id: str | None
    index_name: str | None
    index_valid: bool
    kind: str | None
    index_bytes: int | None
    ef_search: int | None
    ef_source: str
    lists: int | None = None

    @property
    def qualified(self) -> str:
        """``schema.table`` for messages."""
        return f"{self.schema}.{self.table}"

    @property
    def empty(self) -> bool:
        """The collection was empty when migrated: no dimension, no index, nothing to probe."""
        return self.dimensions is None

    @property
    def column(self) -> IndexedColumn:
        """What the index is built on and how a query is compared with it.

        :raises ValueError: for a table without an index (or an empty collection).
        """
        if self.kind is None or self.dimensions is None:
            raise ValueError(f"{self.qualified} has no vector index to search through")
        return IndexedColumn(self.kind, self.space, self.dimensions)

    @property
    def halfvec(self) -> bool:
        """Whether the index is on ``embedding::halfvec(d)``."""
        return self.kind is not None and self.dimensions is not None and self.column.halfvec

    @property
    def knob(self) -> str | None:
        """The search knob of the index's kind (``hnsw.ef_search``, ``ivfflat.probes``, ``re-rank depth``)."""
        return None if self.kind is None else index_kinds.KNOBS[self.kind]

    @property
    def identifier(self) -> sql.Identifier:
        """The table as a safely quoted identifier."""
        return sql.Identifier(self.schema, self.table)


def select_live_collections(conn: psycopg.Connection) -> list[str]:
    """Collections in the registry whose live table exists, sorted.

    :param conn: a connection to the vectors database.
    """
    return [r[0] for r in conn.execute(sql_text("monitor/select_live_collections"))]


def index_kind(method: str, halfvec: bool, bits: bool, dimensions: int) -> str:
    """The kind of an index from the catalog: ``ivfflat``, ``hnsw_bit_rerank`` (on the binary quantisation),
    ``hnsw_halfvec`` (on ``halfvec``, or ``hnsw`` above 2,000 dimensions, as a build records it) or ``hnsw``.

    :param method: pg_am's name (``hnsw`` or ``ivfflat``).
    :param halfvec: the index expression casts to ``halfvec``.
    :param bits: the index expression is ``binary_quantize(embedding)``.
    :param dimensions: the vectors' length.
    """
    if method == "ivfflat":
        return "ivfflat"
    if bits:
        return "hnsw_bit_rerank"
    if halfvec:
        return "hnsw_halfvec" if dimensions <= index_kinds.VECTOR_INDEX_MAX_DIMS else "hnsw"
    return "hnsw"


def load_target(conn: psycopg.Connection, collection: str, ef_override: int | None) -> ProbeTarget:
    """Read the registry and the catalog for ``collection``.

    The knob's value: for the kinds searched at ``hnsw.ef_search`` (``hnsw``, ``hnsw_halfvec``), ``ef_override``
    when set, else the collection's own ``hnsw_ef_search`` recorded at migration (at least k), else pgvector's
    default; for ``ivfflat`` and ``hnsw_bit_rerank``, :func:`vectorops.load.index_kinds.default_effort` (√lists
    probes, the default re-rank depth): ``ef_override`` does not name their knob.

    :param conn: a connection to the vectors database.
    :param collection: a migrated collection.
    :param ef_override: ``VECTOROPS_HNSW_EF_SEARCH`` (``settings.monitor.ef_search``).
    :return: the target; an empty collection (no dimension recorded) comes back with :attr:`ProbeTarget.empty`
        set, to be reported rather than probed.
    :raises RequestError: when the collection was never migrated or its table is gone.
    :raises SettingError: when ``ef_override`` is outside pgvector's 1 to 1000.
    """
    if ef_override is not None and not 1 <= ef_override <= MAX_EF_SEARCH:
        raise SettingError(f"VECTOROPS_HNSW_EF_SEARCH={ef_override} must be between 1 and {MAX_EF_SEARCH}")
    row = conn.execute(sql_text("monitor/select_registry_entry"), (collection,)).fetchone()
    if row is None:
        raise RequestError(f"collection {collection!r} has not been migrated")
    schema, table, dimensions, space, registry_index, registry_ef, attempt_id, registry_lists = row
    qualified = sql.Identifier(schema, table).as_string(conn)
    if not one_value(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,))):
        raise RequestError(f"collection {collection!r}: its table {schema}.{table} does not exist")
    if not dimensions:
        return ProbeTarget(collection, schema, table, None, space, attempt_id, None, False, None, None, None,
                           "empty collection")
    index = conn.execute(sql_text("monitor/select_vector_index"),
                         {"table": qualified, "index_name": registry_index}).fetchone()
    if index is None:
        return ProbeTarget(collection, schema, table, int(dimensions), space, attempt_id, None, False, None, None,
                           None, "no index")
    name, index_bytes, valid, method, halfvec, bits, lists = index
    kind = index_kind(method, bool(halfvec), bool(bits), int(dimensions))
    if kind == "ivfflat":
        lists = int(lists or registry_lists or PGVECTOR_DEFAULT_LISTS)
    else:
        lists = None
    if index_kinds.KNOBS[kind] != EF_SEARCH_KNOB:
        ef = index_kinds.default_effort(kind, ef_search=int(registry_ef or PGVECTOR_DEFAULT_EF_SEARCH), lists=lists)
        source = "kind default"
    elif ef_override is not None:
        ef, source = ef_override, "setting"
    elif registry_ef:
        ef, source = index_kinds.default_effort(kind, ef_search=int(registry_ef), lists=None), "registry"
    else:
        ef, source = PGVECTOR_DEFAULT_EF_SEARCH, "pgvector default"
    return ProbeTarget(collection, schema, table, int(dimensions), space, attempt_id, name, bool(valid), kind,
                       int(index_bytes), ef, source, lists)


def table_stats(conn: psycopg.Connection, target: ProbeTarget) -> tuple[int, int, int]:
    """Row count (exact), table size (heap + TOAST) and the size of all its indexes, in bytes.

    :param conn: a connection to the vectors database.
    :param target: the table.
    """
    rows = one_value(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target.identifier)))
    qualified = target.identifier.as_string(conn)
    sizes = one_row(conn.execute("SELECT pg_table_size(%s::regclass), pg_indexes_size(%s::regclass)",
                                 (qualified, qualified)))
    return int(rows), int(sizes[0]), int(sizes[1])
