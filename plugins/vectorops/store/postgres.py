"""The pgvector backend: Chroma's store API over the registry's tables, in one schema.

:class:`PostgresStore` owns the connection pool and its sessions (which turn PostgreSQL's errors into the store's),
and looks up, creates, lists and drops collections; each collection's records are read, written and searched by
:class:`~vectorops.store.postgres_collection.PostgresCollection`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from vectorops.errors import SettingError
from vectorops.naming import check_schema_name
from vectorops.store import pg_catalog
from vectorops.store.base import VectorStore
from vectorops.store.errors import InvalidRecord, QueryTimeout, StoreError, UnsupportedFilter
from vectorops.store.inputs import collection_metadata, collection_name, hnsw_config, name_argument
from vectorops.store.pg_pool import ConnectionPool, SessionLimits
from vectorops.store.postgres_collection import PostgresCollection
from vectorops.store.settings import (
    DEFAULT_POOL_MAX_SIZE,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    MAX_POOL_SIZE,
    MAX_STATEMENT_TIMEOUT_MS,
    env_prefix,
)

DEFAULT_EXACT_MAX_ROWS = 1000


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
