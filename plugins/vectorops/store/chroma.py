"""The Chroma backend: a PersistentClient behind the same checked API.

Arguments are checked by the shared layer first (so both backends refuse the same things with the same
errors), documents and ``query_texts`` are embedded by the shared layer with the local model (Chroma's own
embedding function never runs, and so never downloads), and Chroma's errors become the store's of the same meaning,
which subclass Chroma's (``errors``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vectorops.store.base import Collection, VectorStore
from vectorops.store.errors import (
    CollectionNotFound,
    DimensionMismatch,
    DuplicateIds,
    InvalidArgument,
    InvalidArgumentType,
    StoreError,
    UnknownIds,
)
from vectorops.store.inputs import RecordBatch, collection_metadata, collection_name, hnsw_config, name_argument
from vectorops.store.results import Row


@contextmanager
def chroma_errors() -> Iterator[None]:
    """Chroma's exceptions as the store's of the same meaning (each also of Chroma's class): not found,
    duplicate ids, unknown ids in a query, dimension and other argument errors, Chroma's ``TypeError``."""
    from chromadb.errors import ChromaError, DuplicateIDError, InvalidArgumentError, NotFoundError

    try:
        yield
    except StoreError:
        raise
    except NotFoundError as exc:
        raise CollectionNotFound(str(exc)) from exc
    except DuplicateIDError as exc:
        raise DuplicateIds(str(exc)) from exc
    except (ChromaError, ValueError, TypeError) as exc:
        message = str(exc)
        if "Error finding id" in message:
            raise UnknownIds(message) from exc
        if "dimension" in message:
            raise DimensionMismatch(message) from exc
        if isinstance(exc, TypeError):
            raise InvalidArgumentType(message) from exc
        if isinstance(exc, InvalidArgumentError | ValueError):
            raise InvalidArgument(message) from exc
        raise StoreError(message) from exc


def open_client(persist_directory: str | Path) -> Any:
    """A Chroma PersistentClient on ``persist_directory`` (telemetry off)."""
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(persist_directory), settings=Settings(anonymized_telemetry=False))


def _space(collection: Any) -> str:
    config = collection.configuration or {}
    for part in ("hnsw", "spann"):
        space = (config.get(part) or {}).get("space")
        if space:
            return str(space)
    return str((collection.metadata or {}).get("hnsw:space", "l2"))


class ChromaCollection(Collection):
    """A Chroma collection behind the store's API."""

    backend = "chroma"

    def __init__(self, collection: Any) -> None:
        super().__init__(collection.name, _space(collection), collection.metadata)
        self.chroma = collection

    def _write(self, mode: str, batch: RecordBatch) -> None:
        given: dict[str, Any] = {"ids": batch.ids}
        for key in ("embeddings", "metadatas", "documents", "uris"):
            value = getattr(batch, key)
            if value is not None:
                given[key] = value
        with chroma_errors():
            getattr(self.chroma, mode)(**given)

    @staticmethod
    def _rows(got: dict[str, Any], i: int | None = None) -> list[Row]:
        def column(key: str) -> list[Any] | None:
            value = got.get(key)
            if value is None:
                return None
            return value[i] if i is not None else value

        ids = column("ids") or []
        fields = [column(k) for k in ("embeddings", "documents", "metadatas", "uris", "distances")]
        return [Row(record_id, *(None if f is None else f[j] for f in fields)) for j, record_id in enumerate(ids)]

    def _get(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None,
             offset: int | None, include: list[str]) -> list[Row]:
        with chroma_errors():
            got = self.chroma.get(ids=ids, where=where, limit=limit, offset=offset, where_document=where_document,
                                  include=include)
        return self._rows(got)

    def _query(self, vectors: np.ndarray, n_results: int, where: Any, where_document: Any,
               ids: list[str] | None, include: list[str]) -> list[list[Row]]:
        with chroma_errors():
            got = self.chroma.query(query_embeddings=vectors, n_results=n_results, where=where,
                                    where_document=where_document, ids=ids, include=include)
        return [self._rows(got, i) for i in range(len(vectors))]

    def _delete(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None = None) -> int:
        with chroma_errors():
            result = self.chroma.delete(ids=ids, where=where, where_document=where_document, limit=limit)
        return int((result or {}).get("deleted", 0))

    def _count(self) -> int:
        with chroma_errors():
            return int(self.chroma.count())


class ChromaStore(VectorStore):
    """Collections in a Chroma PersistentClient directory.

    :param persist_directory: the directory (created by Chroma when missing).
    :param client: an existing Chroma client to use instead.
    """

    backend = "chroma"

    def __init__(self, persist_directory: str | Path | None = None, client: Any = None) -> None:
        if client is None and persist_directory is None:
            raise StoreError("ChromaStore needs a persist_directory or a client")
        self.persist_directory = persist_directory
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The Chroma client, opened at first use (importing chromadb takes a while)."""
        with self._lock:
            if self._client is None:
                self._client = open_client(self.persist_directory)  # type: ignore[arg-type]
            return self._client

    def get_or_create_collection(self, name: str, metadata: Any = None, configuration: Any = None) -> ChromaCollection:
        collection_name(name)
        hnsw_config(metadata, configuration)  # the same checks as the PostgreSQL side
        with chroma_errors():
            return ChromaCollection(self.client.get_or_create_collection(
                name, metadata=collection_metadata(metadata), configuration=configuration, embedding_function=None))

    def get_collection(self, name: str) -> ChromaCollection:
        name_argument(name)
        with chroma_errors():
            return ChromaCollection(self.client.get_collection(name, embedding_function=None))

    def delete_collection(self, name: str) -> None:
        name_argument(name)
        with chroma_errors():
            self.client.delete_collection(name)

    def list_collections(self) -> list[str]:
        with chroma_errors():
            return sorted(c.name for c in self.client.list_collections())

    def close(self) -> None:
        """Nothing to release: Chroma's client lives as long as the process."""
