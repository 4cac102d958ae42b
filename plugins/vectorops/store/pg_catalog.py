"""The PostgreSQL side's catalog: platform tables on first use, registry lookups, and the tables of collections
the store creates (laid out and registered like migrated ones)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from vectorops import db, indexing
from vectorops.naming import table_name_for
from vectorops.store.errors import CollectionNotFound, StoreError
from vectorops.store.inputs import HnswConfig

INDEX_BUILD_CAP_MB = 256


@dataclass(frozen=True)
class TableInfo:
    """Where a collection lives and how it is searched.

    :param index_method: ``hnsw``, ``hnsw_halfvec`` or ``None`` (no index: exact search only).
    """

    collection: str
    schema: str
    table: str
    dimensions: int | None
    space: str
    index_method: str | None
    m: int
    ef_construction: int
    ef_search: int
    metadata: dict[str, Any] | None

    @property
    def identifier(self) -> sql.Identifier:
        """The quoted ``schema.table``."""
        return sql.Identifier(self.schema, self.table)


def ensure_platform(conn: psycopg.Connection) -> str | None:
    """Create what is missing (extension ``vector``, registry, store tables), then name the regex collation.

    Runs once per store; each part is created only when absent, under an advisory lock, so services without the
    right to create anything work on a database that ``vectorops db up`` prepared.
    """
    present = conn.execute("""SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'),
                                     to_regclass('vectorops.collection_registry') IS NOT NULL,
                                     to_regclass('vectorops.store_disagreements') IS NOT NULL""").fetchone()
    if not all(present):
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops.store:ddl', 0))")
                if not present[0]:
                    conn.execute(db.sql_text("schema/create_extensions"))
                if not present[1]:
                    conn.execute(db.sql_text("schema/create_registry"))
                conn.execute(db.sql_text("schema/create_store_tables"))
        except psycopg.errors.InsufficientPrivilege as exc:
            missing = [what for what, ok in zip(("extension vector", "vectorops.collection_registry",
                                                 "vectorops.store_* tables"), present, strict=True) if not ok]
            raise StoreError(f"the database lacks {', '.join(missing)} and this login may not create them "
                             f"({exc.diag.message_primary}); run `vectorops db up` against it, or create them as "
                             "the owner (include/sql/schema/create_store_tables.sql)") from exc
    row = conn.execute(db.sql_text("store/select_regex_collation")).fetchone()
    return row[0] if row else None


def _lock_collection(conn: psycopg.Connection, name: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"vectorops.store:{name}",))


def _info(name: str, row: tuple[Any, ...]) -> TableInfo:
    schema, table, dims, space, _index_name, method, m, ef_construction, ef_search, metadata, _store, exists = row
    if not exists:
        raise CollectionNotFound(f"collection {name!r} is registered at {schema}.{table}, which does not exist")
    return TableInfo(name, schema, table, dims, space, method if method in ("hnsw", "hnsw_halfvec") else None,
                     m or 16, ef_construction or 100, ef_search or 100, metadata)


def find_table(conn: psycopg.Connection, name: str) -> TableInfo | None:
    """The registry's entry for ``name``, or ``None``."""
    row = conn.execute(db.sql_text("store/select_collection"), {"collection": name}).fetchone()
    return None if row is None else _info(name, row)


def require_table(conn: psycopg.Connection, name: str) -> TableInfo:
    """The registry's entry for ``name``.

    :raises CollectionNotFound: naming the known collections.
    """
    info = find_table(conn, name)
    if info is None:
        known = [r[0] for r in conn.execute(db.sql_text("monitor/select_live_collections"))]
        raise CollectionNotFound(f"Collection [{name}] does not exist; known: {', '.join(known) or 'none'}")
    return info


def create_table(conn: psycopg.Connection, name: str, schema: str, config: HnswConfig,
                 metadata: dict[str, Any] | None, service: str) -> TableInfo:
    """The collection ``name``, creating its table and registry row unless another session just did.

    :raises StoreError: when the table name is taken by a table the registry does not know.
    """
    from vectorops.pgvector_sink import create_schema, vector_type

    create_schema(conn, schema)
    with conn.transaction():
        _lock_collection(conn, name)
        existing = find_table(conn, name)
        if existing is not None:
            return existing
        table = table_name_for(name)
        try:
            with conn.transaction():
                conn.execute(db.statement("store/create_collection_table", table=sql.Identifier(schema, table),
                                          vector_type=vector_type(None)))
        except psycopg.errors.DuplicateTable as exc:
            raise StoreError(f"collection {name!r}: table {schema}.{table} exists but is not in "
                             "vectorops.collection_registry; drop or rename it, or register it") from exc
        conn.execute(db.sql_text("store/insert_registry_collection"), {
            "collection": name, "table_schema": schema, "table_name": table, "distance": config.space,
            "m": config.m, "ef_construction": config.ef_construction, "ef_search": config.ef_search})
        conn.execute(db.sql_text("store/insert_store_collection"), {
            "collection": name, "metadata": json.dumps(metadata) if metadata else None, "service": service})
    return require_table(conn, name)


def fix_dimensions(conn: psycopg.Connection, info: TableInfo, dimensions: int) -> TableInfo:
    """At a store-created table's first write: the column becomes ``vector(d)`` and gets its HNSW index.

    Another session may have fixed it first; then its dimension stands (and the caller's vectors are checked
    against it).
    """
    with conn.transaction():
        _lock_collection(conn, info.collection)
        current = require_table(conn, info.collection)
        if current.dimensions is not None:
            return current
        conn.execute(db.statement("store/set_embedding_dimensions", table=info.identifier,
                                  dimensions=sql.Literal(int(dimensions))))
        build = indexing.build_hnsw(conn, schema=info.schema, table=info.table, index_name=f"{info.table}_hnsw",
                                    space=info.space, dimensions=dimensions, rows=0, m=info.m,
                                    ef_construction=info.ef_construction, cap_mb=INDEX_BUILD_CAP_MB)
        conn.execute(db.sql_text("store/update_registry_index"), {
            "collection": info.collection, "dimensions": dimensions, "index_name": build.index_name,
            "index_method": build.method if build.index_name else None})
    return require_table(conn, info.collection)


def drop_table(conn: psycopg.Connection, name: str) -> None:
    """Drop a collection's table and its registry rows.

    :raises CollectionNotFound: when the registry does not know it.
    """
    with conn.transaction():
        _lock_collection(conn, name)
        row = conn.execute(db.sql_text("store/select_collection"), {"collection": name}).fetchone()
        if row is None:
            raise CollectionNotFound(f"Collection [{name}] does not exist")
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(row[0], row[1])))
        conn.execute(db.sql_text("store/delete_collection"), {"collection": name})
