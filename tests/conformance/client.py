"""The client Chroma's own tests are handed: Chroma's ``ClientAPI`` over a ``vectorops.store`` backend.

Only what a Chroma *client* does itself is done here, as Chroma's ``Collection`` model does it: documents and
``query_texts`` are embedded with the collection's own embedding function (which Chroma keeps with the collection)
before the store is called. Every check, filter, write, search and error after that is the store's.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from chromadb.api.types import DefaultEmbeddingFunction  # type: ignore[attr-defined]
from chromadb.config import Settings
from chromadb.errors import UniqueConstraintError
from chromadb.types import Collection as CollectionModel

from vectorops.store.base import Collection, VectorStore
from vectorops.store.inputs import GET_INCLUDE, QUERY_INCLUDE

# Chroma's own placeholder for "not given": its default embedding function is the store's local model
# (all-MiniLM-L6-v2, which the store embeds with when no embeddings are given).
_DEFAULT = object()
# Chroma's HTTP client reports a port: the tests then skip their checks of Chroma's own SQLite log (its internals).
_SETTINGS = Settings(chroma_server_http_port=8000, anonymized_telemetry=False, allow_reset=True)


def _embedder(embedding_function: Any) -> Any:
    if embedding_function is _DEFAULT or embedding_function is None:
        return None
    if isinstance(embedding_function, DefaultEmbeddingFunction):
        return None
    return embedding_function


class StoreCollection:
    """One store collection with the methods and attributes of Chroma's ``Collection``."""

    def __init__(self, client: StoreClient, inner: Collection, embedding_function: Any) -> None:
        self._client = client
        self._inner = inner
        self._embedding_function = embedding_function
        self._model = CollectionModel(
            id=client.collection_id(inner.name), name=inner.name,
            configuration_json={"hnsw": {"space": inner.space}}, serialized_schema=None, metadata=inner.metadata,
            dimension=None, tenant=client.tenant, database=client.database, version=0, log_position=0)

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def id(self) -> uuid.UUID:
        return self._model.id

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self._inner.metadata

    @property
    def configuration_json(self) -> dict[str, Any]:
        return self._model.configuration_json

    def get_model(self) -> CollectionModel:
        return self._model

    def _embed(self, texts: Any) -> Any:
        if self._embedding_function is None or texts is None:
            return None
        return self._embedding_function(texts if isinstance(texts, list) else [texts])

    def _with_embeddings(self, embeddings: Any, documents: Any) -> Any:
        return self._embed(documents) if embeddings is None else embeddings

    def add(self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None,
            images: Any = None, uris: Any = None) -> None:
        self._inner.add(ids, self._with_embeddings(embeddings, documents), metadatas, documents, uris=uris)

    def upsert(self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None,
               images: Any = None, uris: Any = None) -> None:
        self._inner.upsert(ids, self._with_embeddings(embeddings, documents), metadatas, documents, uris=uris)

    def update(self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None,
               images: Any = None, uris: Any = None) -> None:
        self._inner.update(ids, self._with_embeddings(embeddings, documents), metadatas, documents, uris=uris)

    def get(self, ids: Any = None, where: Any = None, limit: Any = None, offset: Any = None,
            where_document: Any = None, include: Any = GET_INCLUDE) -> dict[str, Any]:
        return self._inner.get(ids, where, limit, offset, where_document, include)

    def peek(self, limit: int = 10) -> dict[str, Any]:
        return self._inner.peek(limit)

    def query(self, query_embeddings: Any = None, query_texts: Any = None, query_images: Any = None,
              query_uris: Any = None, ids: Any = None, n_results: int = 10, where: Any = None,
              where_document: Any = None, include: Any = QUERY_INCLUDE) -> dict[str, Any]:
        embedded = self._embed(query_texts) if query_embeddings is None else None
        if embedded is not None:
            query_embeddings, query_texts = embedded, None
        return self._inner.query(query_embeddings, query_texts, ids=ids, n_results=n_results, where=where,
                                 where_document=where_document, include=include)

    def delete(self, ids: Any = None, where: Any = None, where_document: Any = None,
               limit: Any = None) -> dict[str, int]:
        return self._inner.delete(ids, where, where_document, limit)

    def count(self) -> int:
        return self._inner.count()


class StoreClient:
    """Chroma's ``ClientAPI`` (the part the selected tests call) over ``store``.

    Chroma keeps a collection's id and embedding function with the collection; the client keeps them here, per name,
    for the life of the collection.
    """

    def __init__(self, store: VectorStore) -> None:
        self.store = store
        self.tenant = "default_tenant"
        self.database = "default_database"
        self._ids: dict[str, uuid.UUID] = {}
        self._embedding_functions: dict[str, Any] = {}

    def collection_id(self, name: str) -> uuid.UUID:
        return self._ids.setdefault(name, uuid.uuid4())

    def heartbeat(self) -> int:
        return time.time_ns()

    def get_version(self) -> str:
        import chromadb

        return str(chromadb.__version__)

    def get_settings(self) -> Settings:
        return _SETTINGS

    def get_max_batch_size(self) -> int:
        return 5461

    def set_tenant(self, tenant: str, database: str = "default_database") -> None:
        self.tenant, self.database = tenant, database

    def set_database(self, database: str) -> None:
        self.database = database

    def _wrap(self, inner: Collection, embedding_function: Any) -> StoreCollection:
        if embedding_function is _DEFAULT:
            embedding_function = self._embedding_functions.get(inner.name)
        else:
            embedding_function = _embedder(embedding_function)
            self._embedding_functions[inner.name] = embedding_function
        return StoreCollection(self, inner, embedding_function)

    def create_collection(self, name: str, configuration: Any = None, metadata: Any = None,
                          embedding_function: Any = _DEFAULT, data_loader: Any = None,
                          get_or_create: bool = False, schema: Any = None) -> StoreCollection:
        if not get_or_create:
            if name in self.store.list_collections():
                raise UniqueConstraintError(f"Collection {name} already exists")
            self._forget(name)
        return self._wrap(self.store.get_or_create_collection(name, metadata, configuration), embedding_function)

    def get_or_create_collection(self, name: str, configuration: Any = None, metadata: Any = None,
                                 embedding_function: Any = _DEFAULT, data_loader: Any = None,
                                 schema: Any = None) -> StoreCollection:
        return self.create_collection(name, configuration, metadata, embedding_function, data_loader,
                                      get_or_create=True)

    def get_collection(self, name: str, embedding_function: Any = _DEFAULT, data_loader: Any = None) -> StoreCollection:
        return self._wrap(self.store.get_collection(name), embedding_function)

    def delete_collection(self, name: str) -> None:
        self.store.delete_collection(name)
        self._forget(name)

    def list_collections(self, limit: int | None = None, offset: int | None = None) -> list[StoreCollection]:
        names = self.store.list_collections()[offset or 0:]
        return [self.get_collection(n) for n in (names if limit is None else names[:limit])]

    def count_collections(self) -> int:
        return len(self.store.list_collections())

    def reset(self) -> bool:
        for name in self.store.list_collections():
            self.delete_collection(name)
        return True

    def clear_system_cache(self) -> None:
        """Nothing cached: the store outlives the client."""

    def _forget(self, name: str) -> None:
        self._ids.pop(name, None)
        self._embedding_functions.pop(name, None)
