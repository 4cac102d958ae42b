"""The pgvector backend: Chroma's collection API over the registry's tables.

Search is exact on small tables (at most ``exact_max_rows`` rows: the answer is then the true top-k, as Chroma's
brute force over its unflushed log) and through the table's index otherwise, with pgvector 0.8's iterative scan,
so that filtered queries still fill their ``n_results``. The index's knob (:mod:`vectorops.load.index_kinds`):
``hnsw.ef_search`` = the collection's own, at least ``n_results``; ``ivfflat.probes`` and the re-rank depth of a
binary-quantised HNSW = the search monitor's advice for the table, else √lists and 200. Halfvec and bit indexes'
candidates are re-ordered by the full-precision distance, so every distance returned is exact. When the index
returns fewer rows than asked, the query is answered again exactly.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from vectorops.db.rows import one_value
from vectorops.db.sql_files import statement as db_statement
from vectorops.errors import SettingError
from vectorops.load import index_kinds
from vectorops.metadata_json import metadata_json
from vectorops.naming import check_schema_name
from vectorops.store import pg_catalog
from vectorops.store.base import Collection, VectorStore
from vectorops.store.errors import InvalidRecord, QueryTimeout, StoreError, UnsupportedFilter
from vectorops.store.inputs import (
    RecordBatch,
    check_dimensions,
    collection_metadata,
    collection_name,
    hnsw_config,
    name_argument,
)
from vectorops.store.pg_catalog import TableInfo
from vectorops.store.pg_pool import ConnectionPool, SessionLimits
from vectorops.store.results import Row
from vectorops.store.settings import (
    DEFAULT_POOL_MAX_SIZE,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    MAX_POOL_SIZE,
    MAX_STATEMENT_TIMEOUT_MS,
    env_prefix,
)
from vectorops.store.where_sql import compile_filter

PAYLOAD = ("embedding", "document", "metadata", "uri")
FIELD_COLUMNS = {"embeddings": "embedding", "documents": "document", "metadatas": "metadata", "uris": "uri"}
SIZE_CHECK_SECONDS = 10.0
DEFAULT_EXACT_MAX_ROWS = 1000


def chroma_distance(space: str, value: float) -> float:
    """pgvector's operator value as Chroma's distance: squared L2, ``1 - cos``, ``1 - dot``."""
    if space == "l2":
        return value * value
    if space == "ip":
        return 1.0 + value  # <#> is the negative inner product
    return value


class PostgresCollection(Collection):
    """A collection whose records live in a pgvector table (migrated or created by the store)."""

    backend = "postgres"

    def __init__(self, store: PostgresStore, info: TableInfo) -> None:
        super().__init__(info.collection, info.space, info.metadata)
        self._store = store
        self.info = info
        self._small: tuple[float, bool] = (0.0, False)

    @property
    def dimensions(self) -> int | None:
        """Length of the vectors (``None`` until a store-created collection's first write)."""
        return self.info.dimensions

    def _columns(self, include: list[str]) -> sql.Composable:
        wanted = {FIELD_COLUMNS[f] for f in include if f in FIELD_COLUMNS}
        if "metadata" in wanted:
            wanted.add("uri")  # Chroma keeps a uri among the metadata: a record with one has metadata {}, not None
        return sql.SQL(", ").join(sql.Identifier(c) if c in wanted else sql.SQL("NULL AS {}").format(sql.Identifier(c))
                                  for c in PAYLOAD)

    def _filter(self, ids: list[str] | None, where: Any, where_document: Any) -> tuple[sql.Composable, dict]:
        return compile_filter(where, where_document, ids, self._store.regex_collation)

    @staticmethod
    def _row(record: tuple[Any, ...], distance: float | None = None) -> Row:
        record_id, embedding, document, metadata, uri = record
        vector = None if embedding is None else (embedding.to_numpy() if hasattr(embedding, "to_numpy")
                                                 else np.asarray(embedding))
        if not metadata:
            metadata = None if uri is None else {}
        return Row(record_id, vector, document, metadata, uri, distance)

    def _write(self, mode: str, batch: RecordBatch) -> None:
        if batch.embeddings is not None:
            if self.info.dimensions is None:
                with self._store.session(self.name) as conn:
                    self.info = pg_catalog.fix_dimensions(conn, self.info, batch.embeddings.shape[1])
            check_dimensions(batch.embeddings, self.info.dimensions)
        rows = []
        for i, record_id in enumerate(batch.ids):
            meta = batch.metadatas[i] if batch.metadatas is not None else None
            rows.append({
                "id": record_id,
                "embedding": None if batch.embeddings is None else batch.embeddings[i],
                "document": batch.documents[i] if batch.documents is not None else None,
                "metadata": None if meta is None else metadata_json(meta),
                "uri": batch.uris[i] if batch.uris is not None else None,
            })
        statement = db_statement(f"store/{'insert' if mode == 'add' else mode}_records",
                                 table=self.info.identifier)
        with self._store.session(self.name) as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(statement, rows)
        self._small = (0.0, False)

    def _get(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None,
             offset: int | None, include: list[str]) -> list[Row]:
        condition, params = self._filter(ids, where, where_document)
        statement = db_statement("store/select_records", table=self.info.identifier, filter=condition,
                                 columns=self._columns(include))
        with self._store.session(self.name) as conn:
            records = conn.execute(statement, {**params, "limit": limit, "offset": offset or 0},
                                   binary=True).fetchall()  # binary vectors: several times faster to read
        return [self._row(r) for r in records]

    def _is_small(self, conn: psycopg.Connection) -> bool:
        expires, small = self._small
        now = time.monotonic()
        if now >= expires:
            cap = self._store.exact_max_rows + 1
            count = one_value(conn.execute(db_statement("store/count_records_up_to", table=self.info.identifier),
                                           {"cap": cap}))
            small = count < cap
            self._small = (now + SIZE_CHECK_SECONDS, small)
        return small

    def _nearest(self, conn: psycopg.Connection, vector: np.ndarray, k: int, condition: sql.Composable,
                 params: dict[str, Any], columns: sql.Composable, exact: bool) -> list[tuple[Any, ...]]:
        query = sql.SQL("%(query)s::vector")
        distance = index_kinds.distance(self.space, query)
        values = {**params, "query": vector, "k": k}
        if exact:
            statement = db_statement("store/query_nearest", table=self.info.identifier, filter=condition,
                                     columns=columns, distance=distance, tiebreak=sql.SQL(", id"))
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")
                conn.execute("SET LOCAL enable_bitmapscan = off")
                return conn.execute(statement, values, binary=True).fetchall()
        kind = self.info.index_method or "hnsw"
        assert self.info.dimensions is not None  # a table with an index has its dimensions
        column = index_kinds.IndexedColumn(kind, self.space, self.info.dimensions)
        effort = self.info.search_effort(k)
        self._store.search_settings(conn, index_kinds.search_settings(kind, effort))
        if column.reranked:
            statement = db_statement("store/query_nearest_reranked", table=self.info.identifier, filter=condition,
                                     columns=columns, distance=distance, order=column.order(query))
            values["depth"] = index_kinds.rerank_depth(column, effort, k)
        else:
            statement = db_statement("store/query_nearest", table=self.info.identifier, filter=condition,
                                     columns=columns, distance=column.order(query), tiebreak=sql.SQL(""))
        return conn.execute(statement, values, binary=True).fetchall()

    def _query(self, vectors: np.ndarray, n_results: int, where: Any, where_document: Any,
               ids: list[str] | None, include: list[str]) -> list[list[Row]]:
        condition, params = self._filter(ids, where, where_document)
        columns = self._columns(include)
        out = []
        with self._store.session(self.name) as conn:
            if self.info.dimensions is None:  # another session may have written the first records since
                self.info = pg_catalog.require_table(conn, self.info.key, self.info.schema)
                if self.info.dimensions is None:
                    return [[] for _ in range(len(vectors))]
            check_dimensions(vectors, self.info.dimensions)
            exact = self.info.index_method is None or self._is_small(conn)
            for vector in vectors:
                rows = self._nearest(conn, vector, n_results, condition, params, columns, exact)
                if not exact and len(rows) < n_results:  # the index ran out: answer exactly
                    rows = self._nearest(conn, vector, n_results, condition, params, columns, True)
                out.append([self._row((r[0], *r[2:]), chroma_distance(self.space, float(r[1]))) for r in rows])
        return out

    def _delete(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None = None) -> int:
        if limit is not None:
            return len(self.delete_returning(ids, where, where_document, limit))
        condition, params = self._filter(ids, where, where_document)
        with self._store.session(self.name) as conn:
            deleted = conn.execute(db_statement("store/delete_records", table=self.info.identifier,
                                                filter=condition), params).rowcount
        self._small = (0.0, False)
        return deleted

    def delete_returning(self, ids: list[str] | None, where: Any, where_document: Any, limit: int) -> list[str]:
        """Delete the first ``limit`` matching records in id order, in one statement; return their ids (the
        ``dual`` backend deletes the same ones from Chroma)."""
        condition, params = self._filter(ids, where, where_document)
        with self._store.session(self.name) as conn:
            deleted = [r[0] for r in conn.execute(
                db_statement("store/delete_records_limited", table=self.info.identifier, filter=condition),
                {**params, "limit": limit}).fetchall()]
        self._small = (0.0, False)
        return deleted

    def _missing_ids(self, ids: list[str]) -> list[str]:
        if self.info.dimensions is None:  # never written: Chroma, too, finds nothing to refuse
            return []
        with self._store.session(self.name) as conn:
            held = {r[0] for r in conn.execute(db_statement("store/select_held_ids", table=self.info.identifier),
                                               {"ids": ids}).fetchall()}
        return [i for i in ids if i not in held]

    def _count(self) -> int:
        with self._store.session(self.name) as conn:
            return int(one_value(conn.execute(db_statement("store/count_records", table=self.info.identifier))))


class PostgresStore(VectorStore):
    """Collections in PostgreSQL + pgvector, found through ``vectorops.collection_registry``, in one schema.

    The store sees only the collections registered in ``table_schema`` (migrated there or created there by a
    store): another schema's collection of the same name is not found, and each schema may hold its own ``docs``.

    :param dsn: libpq URL of the vectors database.
    :param table_schema: the service's schema: where its collections are looked up and created.
    :param service: the service name, recorded with the collections it creates.
    :param exact_max_rows: tables up to this many rows are searched exactly (default 1,000).
    :param statement_timeout_ms: ``statement_timeout`` of every session; a longer statement is cancelled and
        raises :class:`QueryTimeout`.
    :param pool_max_size: the most connections open at once.
    """

    backend = "postgres"

    def __init__(self, dsn: str, table_schema: str = "vectors", service: str = "vectorops",
                 exact_max_rows: int = DEFAULT_EXACT_MAX_ROWS,
                 statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
                 pool_max_size: int = DEFAULT_POOL_MAX_SIZE) -> None:
        try:
            self.table_schema = check_schema_name(table_schema)
        except ValueError as exc:  # PostgreSQL would truncate a long name: the registry would hold another
            raise StoreError(f"PostgresStore(table_schema=...): {exc}") from exc
        self.service = service
        self.exact_max_rows = exact_max_rows
        prefix = _setting_prefix(service)
        for setting, value, high in ((f"{prefix}_STATEMENT_TIMEOUT_MS", statement_timeout_ms,
                                      MAX_STATEMENT_TIMEOUT_MS),
                                     (f"{prefix}_POOL_MAX_SIZE", pool_max_size, MAX_POOL_SIZE)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise StoreError(f"{setting}={value!r} must be an integer from 1 to {high}")
        self.timeout_setting = f"{prefix}_STATEMENT_TIMEOUT_MS"
        self.pool = ConnectionPool(dsn, application_name=f"vectorops-store:{service}"[:63],
                                   limits=SessionLimits(statement_timeout_ms, pool_max_size,
                                                        f"{prefix}_POOL_MAX_SIZE"))
        self._ready = False
        self._lock = threading.Lock()
        self.regex_collation: str | None = None
        self._search_settings: weakref.WeakKeyDictionary[psycopg.Connection, tuple[tuple[str, str], ...]] = (
            weakref.WeakKeyDictionary())

    @property
    def statement_timeout_ms(self) -> int:
        """The sessions' ``statement_timeout``."""
        return self.pool.limits.statement_timeout_ms

    @contextmanager
    def session(self, collection: str) -> Iterator[psycopg.Connection]:
        """A pooled connection for work on ``collection``; a statement PostgreSQL cancels becomes a one-line
        :class:`StoreError` naming the collection (:class:`QueryTimeout` at the statement timeout), a table
        dropped under a collection object (``delete_collection``) Chroma's :class:`CollectionNotFound`, a
        ``$regex`` PostgreSQL cannot compile :class:`UnsupportedFilter`, and an id too long to index
        :class:`InvalidRecord`."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.errors.UndefinedTable as exc:
            raise pg_catalog.not_found(collection) from exc
        except psycopg.errors.InvalidRegularExpression as exc:  # a valid $regex PostgreSQL's engine cannot compile
            raise UnsupportedFilter(f"collection {collection!r}: $regex is too large for PostgreSQL's regular "
                                    f"expression engine ({exc.diag.message_primary or exc}); a word boundary "
                                    "costs the most: use fewer \\b") from exc
        except psycopg.errors.ProgramLimitExceeded as exc:
            reason = exc.diag.message_primary or str(exc)
            if "index row" in reason:  # an id too long for the primary key's index
                raise InvalidRecord(f"collection {collection!r}: a record is larger than PostgreSQL can index "
                                    f"({reason}); ids must fit an index row (8,191 bytes after compression)") from exc
            raise StoreError(f"collection {collection!r}: PostgreSQL refused the statement ({reason})") from exc
        except psycopg.errors.QueryCanceled as exc:
            reason = exc.diag.message_primary or str(exc)
            if "statement timeout" in reason:
                raise QueryTimeout(f"collection {collection!r}: the query ran past the statement timeout of "
                                   f"{self.statement_timeout_ms} ms and was cancelled ({self.timeout_setting}="
                                   f"{self.statement_timeout_ms}); narrow the filter, or raise the setting") from exc
            raise StoreError(f"collection {collection!r}: the query was cancelled ({reason})") from exc

    def search_settings(self, conn: psycopg.Connection, settings: tuple[tuple[str, str], ...]) -> None:
        """Set an index's search settings (:func:`vectorops.load.index_kinds.search_settings`) on a pooled
        connection, once per value: the index path then takes one round trip. Only the store uses its pool's
        connections."""
        if self._search_settings.get(conn) != settings:
            conn.execute(sql.SQL("SELECT {}").format(sql.SQL(", ").join(
                sql.SQL("set_config({}, {}, false)").format(sql.Literal(name), sql.Literal(value))
                for name, value in settings)))
            self._search_settings[conn] = settings

    def _prepare(self) -> None:
        with self._lock:
            if self._ready:
                return
            with self.pool.connection(registered=False) as conn:
                self.regex_collation = pg_catalog.ensure_platform(conn)
            self._ready = True

    def get_or_create_collection(self, name: str, metadata: Any = None,
                                 configuration: Any = None) -> PostgresCollection:
        collection_name(name)
        self._prepare()
        with self.session(name) as conn:
            info = pg_catalog.find_table(conn, name, self.table_schema)
            if info is None:
                config = hnsw_config(metadata, configuration)
                info = pg_catalog.create_table(conn, name, self.table_schema, config,
                                               collection_metadata(metadata), self.service)
        return PostgresCollection(self, info)

    def get_collection(self, name: str) -> PostgresCollection:
        name_argument(name)
        self._prepare()
        with self.session(name) as conn:
            return PostgresCollection(self, pg_catalog.require_table(conn, name, self.table_schema))

    def delete_collection(self, name: str) -> None:
        name_argument(name)
        self._prepare()
        with self.session(name) as conn:
            pg_catalog.drop_table(conn, name, self.table_schema)

    def list_collections(self) -> list[str]:
        self._prepare()
        with self.pool.connection() as conn:
            return pg_catalog.list_tables(conn, self.table_schema)

    def close(self) -> None:
        self.pool.close()


def _setting_prefix(service: str) -> str:
    try:
        return env_prefix(service)
    except SettingError:
        return "<SERVICE>"
