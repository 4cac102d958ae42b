"""The application-facing vector store: one Chroma-style API over Chroma and pgvector, switched by environment.

>>> store = get_store("query")            # QUERY_STORAGE_TYPE=postgres | chroma | dual
>>> docs = store.get_or_create_collection("docs", metadata={"hnsw:space": "cosine"})
>>> docs.query(query_texts=["refund policy"], n_results=5, where={"lang": "en"})

``postgres`` serves from the tables the migration made (``vectorops.collection_registry`` maps each collection to
its table) and creates new collections with the same layout; ``chroma`` serves from a PersistentClient
directory; ``dual`` serves from pgvector while checking a sample of queries against Chroma. Results, distances and
filter semantics are Chroma's whichever backend answers (the conformance suite in ``tests/store`` checks it).
Heavy libraries are imported only when needed (torch by the embedding model), except ``chromadb.errors``: the store's
errors subclass Chroma's, so that ``except`` clauses written for Chroma keep working (``errors``).
"""

from __future__ import annotations

from vectorops.store.base import Collection, VectorStore
from vectorops.store.errors import (
    CollectionNotFound,
    DimensionMismatch,
    DuplicateIds,
    InvalidArgument,
    InvalidArgumentType,
    InvalidRecord,
    PoolExhausted,
    QueryTimeout,
    StoreError,
    UnknownIds,
    UnsupportedFilter,
)
from vectorops.store.settings import StoreSettings, store_settings

__all__ = ["Collection", "CollectionNotFound", "DimensionMismatch", "DuplicateIds", "InvalidArgument",
           "InvalidArgumentType", "InvalidRecord", "PoolExhausted", "QueryTimeout", "StoreError", "StoreSettings",
           "UnknownIds", "UnsupportedFilter", "VectorStore", "get_store", "open_store"]


def open_store(settings: StoreSettings) -> VectorStore:
    """The store that ``settings`` describe."""
    from vectorops.store.chroma import ChromaStore
    from vectorops.store.postgres import PostgresStore

    if settings.storage_type == "chroma":
        return ChromaStore(settings.persist_directory)
    primary = PostgresStore(settings.database_url or "", table_schema=settings.table_schema,
                            service=settings.service, statement_timeout_ms=settings.statement_timeout_ms,
                            pool_max_size=settings.pool_max_size)
    if settings.storage_type == "postgres":
        return primary
    from vectorops.store.dual import DualStore

    return DualStore(primary, ChromaStore(settings.persist_directory), settings.service, settings.dual_sample_rate)


def get_store(service: str) -> VectorStore:
    """The vector store of ``service``, as its environment configures it.

    Reads ``<SERVICE>_STORAGE_TYPE`` (``postgres`` | ``chroma`` | ``dual``), ``DATABASE_URL``,
    ``<SERVICE>_PERSIST_DIRECTORY`` (else ``CHROMA_PERSIST_DIRECTORY``), and optionally ``<SERVICE>_TABLE_SCHEMA``
    (the only schema whose collections the service sees), ``<SERVICE>_DUAL_SAMPLE_RATE``,
    ``<SERVICE>_STATEMENT_TIMEOUT_MS`` and ``<SERVICE>_POOL_MAX_SIZE``. Nothing connects until the first call that
    needs the database.

    :param service: the service name; ``query`` reads ``QUERY_STORAGE_TYPE`` ...
    :raises SettingError: naming the variable that is missing or has an unusable value.
    """
    return open_store(store_settings(service))
