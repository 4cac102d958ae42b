"""The PostgreSQL side's catalog: platform tables on first use, registry lookups, and the tables of collections
the store creates (laid out and registered like migrated ones)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import sql

from vectorops.db import ownership
from vectorops.db.rows import one_row, one_value
from vectorops.db.sql_files import sql_text, statement
from vectorops.load import index_kinds, indexing
from vectorops.load.hnsw_params import pgvector_hnsw
from vectorops.naming import table_name_for
from vectorops.store.errors import CollectionNotFound, StoreError
from vectorops.store.inputs import HnswConfig

INDEX_BUILD_CAP_MB = 256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableInfo:
    """Where a collection lives and how it is searched.

    :param collection: the collection's name (Chroma's, bare).
    :param key: its registry key (``collection_key``), unique across schemas.
    :param index_method: one of :data:`vectorops.load.index_kinds.METHODS`, or ``None`` (no index: exact search
        only).
    :param lists: an IVFFlat index's lists.
    :param index_kind: the kind the migration asked for (built at the first write of a collection migrated empty).
    :param advised: the search monitor's advice for the index's knob (``search_knob``, value), if any.
    """

    collection: str
    key: str
    schema: str
    table: str
    dimensions: int | None
    space: str
    index_method: str | None
    m: int
    ef_construction: int
    ef_search: int
    metadata: dict[str, Any] | None
    lists: int | None = None
    index_kind: str | None = None
    advised: tuple[str, int] | None = None

    def search_effort(self, k: int) -> int:
        """The index's knob for a top-``k`` search: the monitor's advice for an IVFFlat or bit index (whose default
        is a rule of thumb), else the kind's default (an HNSW index keeps the collection's own ef_search, as in
        Chroma)."""
        kind = self.index_method or "hnsw"
        if self.advised is not None and kind in ("ivfflat", "hnsw_bit_rerank") and (
                self.advised[0] == index_kinds.KNOBS[kind]):
            return max(self.advised[1], k) if kind == "hnsw_bit_rerank" else self.advised[1]
        return index_kinds.default_effort(kind, ef_search=self.ef_search, lists=self.lists, k=k)

    @property
    def identifier(self) -> sql.Identifier:
        """The quoted ``schema.table``."""
        return sql.Identifier(self.schema, self.table)


def ensure_platform(conn: psycopg.Connection) -> str | None:
    """Create what is missing (extension ``vector``, registry, store tables), then name the regex collation.

    Runs once per store; each part is created only when absent, under an advisory lock, so services without the
    right to create anything work on a database that ``vectorops db up`` prepared.
    """
    # owned_objects came with the registry's app_written column: an older registry gets both from create_registry
    present = one_row(conn.execute(sql_text("store/select_platform_parts")))
    if not all(present):
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops.store:ddl', 0))")
                if not present[0]:
                    conn.execute(sql_text("schema/create_extensions"))
                if not present[1]:
                    conn.execute(sql_text("schema/create_registry"))
                conn.execute(sql_text("schema/create_store_tables"))
        except psycopg.errors.InsufficientPrivilege as exc:
            missing = [what for what, ok in zip(("extension vector", "vectorops.collection_registry / owned_objects",
                                                 "vectorops.store_* tables"), present, strict=True) if not ok]
            raise StoreError(f"the database lacks {', '.join(missing)} and this login may not create them "
                             f"({exc.diag.message_primary}); run `vectorops db up` against it, or create them as "
                             "the owner (vectorops/sql/schema/create_store_tables.sql)") from exc
    row = conn.execute(sql_text("store/select_regex_collation")).fetchone()
    return row[0] if row else None


def _lock_table(conn: psycopg.Connection, schema: str, table: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"vectorops.store:{schema}.{table}",))


def _row(conn: psycopg.Connection, name: str, schema: str) -> tuple[Any, ...] | None:
    return conn.execute(sql_text("store/select_collection"), {"collection": name, "schema": schema}).fetchone()


def _info(name: str, row: tuple[Any, ...]) -> TableInfo:
    (key, collection, schema, table, dims, space, method, m, ef_construction, ef_search, lists, kind, metadata,
     exists) = row
    if not exists:
        raise CollectionNotFound(f"collection {name!r} is registered at {schema}.{table}, which does not exist")
    return TableInfo(collection, key, schema, table, dims, space,
                     method if method in index_kinds.METHODS else None, m or 16, ef_construction or 100,
                     ef_search or 100, metadata, lists, kind if kind in index_kinds.KINDS else None)


def _advice(conn: psycopg.Connection, info: TableInfo) -> TableInfo:
    """``info`` with the search monitor's advice, for the kinds whose default knob is a rule of thumb."""
    if info.index_method not in ("ivfflat", "hnsw_bit_rerank") or one_value(conn.execute(
            "SELECT to_regclass('vectorops.index_health') IS NULL")):
        return info
    row = conn.execute(sql_text("store/select_index_advice"), {"schema": info.schema, "table": info.table}).fetchone()
    return info if row is None else replace(info, advised=(str(row[0]), int(row[1])))


def find_table(conn: psycopg.Connection, name: str, schema: str) -> TableInfo | None:
    """The collection ``name`` (a name, or an exact registry key) of the schema ``schema``, or ``None``.

    Only ``schema``'s collections are seen: a service never reaches another schema's.
    """
    row = _row(conn, name, schema)
    return None if row is None else _advice(conn, _info(name, row))


def not_found(name: str) -> CollectionNotFound:
    """Chroma's error for a collection that does not exist; it names no other collection."""
    return CollectionNotFound(f"Collection [{name}] does not exist")


def require_table(conn: psycopg.Connection, name: str, schema: str) -> TableInfo:
    """The collection ``name`` of the schema ``schema``.

    :raises CollectionNotFound: naming only ``name``.
    """
    info = find_table(conn, name, schema)
    if info is None:
        raise not_found(name)
    return info


def list_tables(conn: psycopg.Connection, schema: str) -> list[str]:
    """The collections of ``schema`` whose table exists, each by the handle that finds it (sorted)."""
    return [r[0] for r in conn.execute(sql_text("store/select_schema_collections"), {"schema": schema})]


def _new_key(conn: psycopg.Connection, name: str, schema: str) -> str:
    """The registry key of a collection the store creates: its name when no collection or unfinished migration
    has that key, else ``name@`` and 8 hex digits of ``store:<schema>`` (which ``CollectionRef.parse`` strips)."""
    # two services creating the same name in two schemas at once: the second waits for the first's key
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops.store-key:' || %s, 0))", (name,))
    if not one_value(conn.execute(sql_text("store/select_key_taken"), {"key": name})):
        return name
    return f"{name}@{hashlib.sha256(f'store:{schema}'.encode()).hexdigest()[:8]}"


def create_table(conn: psycopg.Connection, name: str, schema: str, config: HnswConfig,
                 metadata: dict[str, Any] | None, service: str) -> TableInfo:
    """The collection ``name`` of ``schema``, creating its table and registry row unless another session just did.

    The table is recorded as created by vectorops, and the registry row marked app-written, in the transaction
    that creates them. The registry records the HNSW ``m`` / ``ef_construction`` the index will be built with
    (:func:`~vectorops.load.hnsw_params.pgvector_hnsw`: pgvector's limits) and ``config``'s beside them; the
    collection's metadata stays as given, as Chroma keeps it.

    :raises StoreError: when the table name is taken by a table vectorops did not create (nothing is changed), or
        by one the registry does not know.
    """
    from vectorops.load.shadow import create_schema, vector_type

    created_by = f"store:{service}"
    hnsw = pgvector_hnsw(config.m, config.ef_construction)
    if not create_schema(conn, schema, created_by):
        raise StoreError(f"collection {name!r}: schema {schema} exists and was not created by vectorops; the store "
                         "creates tables only in schemas vectorops creates (so that backups, restores and grants "
                         "never reach other tables): point the service's TABLE_SCHEMA at another schema")
    table = table_name_for(name)
    with conn.transaction():
        _lock_table(conn, schema, table)
        existing = find_table(conn, name, schema)
        if existing is not None:
            return existing
        try:
            ownership.require_absent_or_ours(conn, schema, table)
        except ownership.NotCreatedByVectorops as exc:
            raise StoreError(f"collection {name!r}: table {schema}.{table} exists and was not created by "
                             "vectorops; nothing was changed (rename or drop that table, or use another collection "
                             "name)") from exc
        try:
            with conn.transaction():
                conn.execute(statement("store/create_collection_table", table=sql.Identifier(schema, table),
                                          vector_type=vector_type(None)))
        except psycopg.errors.DuplicateTable as exc:
            raise StoreError(f"collection {name!r}: table {schema}.{table} exists but is not in "
                             "vectorops.collection_registry; drop or rename it, or register it") from exc
        ownership.record_table(conn, schema, table, created_by)
        key = _new_key(conn, name, schema)
        try:
            with conn.transaction():
                conn.execute(sql_text("store/insert_registry_collection"), {
                    "collection_key": key, "collection": name, "table_schema": schema, "table_name": table,
                    "distance": config.space, "m": hnsw.m, "ef_construction": hnsw.ef_construction,
                    "ef_search": config.ef_search, "source_m": config.m,
                    "source_ef_construction": config.ef_construction})
        except psycopg.errors.UniqueViolation as exc:
            raise StoreError(f"collection {name!r}: cannot register it in schema {schema} "
                             f"({exc.diag.message_primary})") from exc
        conn.execute(sql_text("store/insert_store_collection"), {
            "collection": key, "metadata": json.dumps(metadata) if metadata else None, "service": service})
        if hnsw.adjusted:
            log.warning("collection %r: %s", name, hnsw.note())
        return require_table(conn, key, schema)


def fix_dimensions(conn: psycopg.Connection, info: TableInfo, dimensions: int) -> TableInfo:
    """At the first write of a table created empty (by the store, or migrated empty): the column becomes
    ``vector(d)`` and gets its vector index, of the kind the migration asked for (HNSW for the store's own).

    Another session may have fixed it first; then its dimension stands (and the caller's vectors are checked
    against it).
    """
    with conn.transaction():
        _lock_table(conn, info.schema, info.table)
        current = require_table(conn, info.key, info.schema)
        if current.dimensions is not None:
            return current
        conn.execute(statement("store/set_embedding_dimensions", table=info.identifier,
                                  dimensions=sql.Literal(int(dimensions))))
        kind = current.index_kind or "hnsw"  # what the migration of an empty collection asked for
        rows = one_value(conn.execute(statement("store/count_records", table=info.identifier)))
        build = indexing.build_index(conn, indexing.IndexSpec(
            schema=info.schema, table=info.table, index_name=info.table + index_kinds.index_suffix(kind),
            space=info.space, dimensions=dimensions, rows=int(rows), m=info.m, ef_construction=info.ef_construction,
            cap_mb=INDEX_BUILD_CAP_MB, kind=kind))
        conn.execute(sql_text("store/update_registry_index"), {
            "collection": info.key, "dimensions": dimensions, "index_name": build.index_name,
            "index_method": build.method if build.index_name else None, "lists": build.lists, "m": build.m,
            "ef_construction": build.ef_construction})
    return require_table(conn, info.key, info.schema)


def drop_table(conn: psycopg.Connection, name: str, schema: str) -> None:
    """Drop a collection of ``schema``: its table when vectorops created it, and its registry and store rows.

    :raises CollectionNotFound: when ``schema`` has no collection ``name``.
    :raises StoreError: when its table exists and vectorops did not create it (nothing is changed).
    """
    row = _row(conn, name, schema)
    if row is None:
        raise not_found(name)
    key, table = row[0], row[3]
    with conn.transaction():
        _lock_table(conn, schema, table)
        row = _row(conn, key, schema)
        if row is None:  # another session dropped it meanwhile
            raise not_found(name)
        try:
            ownership.drop_table(conn, schema, table)
        except ownership.NotCreatedByVectorops as exc:
            raise StoreError(f"collection {name!r}: table {schema}.{table} was not created by vectorops, so it is "
                             "not dropped; the collection stays registered") from exc
        conn.execute(sql_text("store/delete_collection"), {"collection": key})
