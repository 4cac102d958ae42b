"""What the monitor probes: a collection's live table, its vector index as the catalog has it, and the ef_search."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from vectorops.db.rows import one_row, one_value
from vectorops.db.sql_files import sql_text
from vectorops.errors import RequestError, SettingError

PGVECTOR_DEFAULT_EF_SEARCH = 40  # hnsw.ef_search when nothing sets it
MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search


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
    :param index_name: the HNSW index found in the catalog, ``None`` when the table has none.
    :param index_valid: whether that index is valid and ready.
    :param halfvec: whether the index is on ``embedding::halfvec(d)``.
    :param index_bytes: its size.
    :param ef_search: the ``hnsw.ef_search`` to probe at; ``None`` without an index.
    :param ef_source: where ``ef_search`` came from: ``setting``, ``registry`` or ``pgvector default``.
    """

    collection: str
    schema: str
    table: str
    dimensions: int | None
    space: str
    attempt_id: str | None
    index_name: str | None
    index_valid: bool
    halfvec: bool
    index_bytes: int | None
    ef_search: int | None
    ef_source: str

    @property
    def qualified(self) -> str:
        """``schema.table`` for messages."""
        return f"{self.schema}.{self.table}"

    @property
    def empty(self) -> bool:
        """The collection was empty when migrated: no dimension, no index, nothing to probe."""
        return self.dimensions is None

    @property
    def identifier(self) -> sql.Identifier:
        """The table as a safely quoted identifier."""
        return sql.Identifier(self.schema, self.table)


def select_live_collections(conn: psycopg.Connection) -> list[str]:
    """Collections in the registry whose live table exists, sorted.

    :param conn: a connection to the vectors database.
    """
    return [r[0] for r in conn.execute(sql_text("monitor/select_live_collections"))]


def load_target(conn: psycopg.Connection, collection: str, ef_override: int | None) -> ProbeTarget:
    """Read the registry and the catalog for ``collection``.

    :param conn: a connection to the vectors database.
    :param collection: a migrated collection.
    :param ef_override: ``VECTOROPS_HNSW_EF_SEARCH`` (``settings.monitor.ef_search``); else the collection's own
        ``hnsw_ef_search`` recorded at migration, else pgvector's default.
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
    schema, table, dimensions, space, registry_index, registry_ef, attempt_id = row
    qualified = sql.Identifier(schema, table).as_string(conn)
    if not one_value(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,))):
        raise RequestError(f"collection {collection!r}: its table {schema}.{table} does not exist")
    if not dimensions:
        return ProbeTarget(collection, schema, table, None, space, attempt_id, None, False, False, None, None,
                           "empty collection")
    index = conn.execute(sql_text("monitor/select_vector_index"),
                         {"table": qualified, "index_name": registry_index}).fetchone()
    if index is None:
        return ProbeTarget(collection, schema, table, int(dimensions), space, attempt_id, None, False, False, None,
                           None, "no index")
    if ef_override is not None:
        ef, source = ef_override, "setting"
    elif registry_ef:
        ef, source = min(int(registry_ef), MAX_EF_SEARCH), "registry"
    else:
        ef, source = PGVECTOR_DEFAULT_EF_SEARCH, "pgvector default"
    return ProbeTarget(collection, schema, table, int(dimensions), space, attempt_id, index[0], bool(index[2]),
                       bool(index[3]), int(index[1]), ef, source)


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
