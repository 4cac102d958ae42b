"""The collection API every backend offers, with Chroma 1.5's signatures and semantics.

This layer checks and normalises the arguments once (``inputs``, ``where``), embeds documents and
``query_texts`` with the configured local model (``vectorops.embedding.model``; nothing is downloaded), and shapes the
results (``results``). A backend implements only the primitives at the bottom of :class:`Collection`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from vectorops.store import inputs, record_inputs
from vectorops.store.errors import InvalidArgument, UnknownIds
from vectorops.store.inputs import GET_INCLUDE, QUERY_INCLUDE, RecordBatch
from vectorops.store.results import Row, get_result, query_result
from vectorops.store.where import check_filters


def embed_texts(texts: list[str]) -> np.ndarray:
    """Embed ``texts`` with the configured local model (``VECTOROPS_EMBEDDING_MODEL``), offline."""
    from vectorops.embedding import model

    return model.encode(texts)


@contextmanager
def checking(method: str) -> Iterator[None]:
    """Name the method in the message of an argument it refuses, as Chroma's ``validation_context`` does
    ("... in get."); the exception keeps its class."""
    try:
        yield
    except InvalidArgument as exc:
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (f"{exc.args[0]} in {method}.", *exc.args[1:])
        raise


class Collection(ABC):
    """One collection: Chroma's ``add`` / ``upsert`` / ``update`` / ``get`` / ``query`` / ``delete`` / ``count``.

    :param name: the collection name.
    :param space: ``l2`` | ``cosine`` | ``ip``; distances follow Chroma's definitions for it (squared L2,
        ``1 - cos``, ``1 - dot``) whichever backend answers.
    :param metadata: the collection's metadata, as Chroma returns it.
    """

    backend = "abstract"

    def __init__(self, name: str, space: str, metadata: dict[str, Any] | None) -> None:
        self.name = name
        self.space = space
        self.metadata = metadata

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, space={self.space!r})"

    def _embedded(self, batch: RecordBatch, required: bool) -> RecordBatch:
        if batch.embeddings is None and batch.documents is not None:
            if any(d is None for d in batch.documents):
                raise InvalidArgument("embeddings were not given, so every record needs a document to embed")
            batch = RecordBatch(batch.ids, embed_texts(list(batch.documents)),  # type: ignore[arg-type]
                                batch.metadatas, batch.documents, batch.uris)
        if required and batch.embeddings is None:
            raise InvalidArgument("give embeddings, or documents to embed with the local model")
        return batch

    def add(self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, *,
            uris: Any = None) -> None:
        """Add records; ids that exist already are left as they are (Chroma's ``add``).

        :param embeddings: one vector per id; when ``None``, ``documents`` are embedded with the local model.
        :raises StoreError: for arguments Chroma refuses, or values PostgreSQL cannot hold.
        """
        with checking("add"):
            batch = self._embedded(record_inputs.record_batch(ids, embeddings, metadatas, documents, uris,
                                                       allow_none_values=False), required=True)
        self._write("add", batch)

    def upsert(self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, *,
               uris: Any = None) -> None:
        """Insert new records, update existing ones: metadata is merged key by key (``None`` removes a key);
        a field not given keeps its value."""
        with checking("upsert"):
            batch = self._embedded(record_inputs.record_batch(ids, embeddings, metadatas, documents, uris,
                                                       allow_none_values=True), required=True)
        self._write("upsert", batch)

    def update(self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, *,
               uris: Any = None) -> None:
        """Update existing records as ``upsert`` does; ids that do not exist are ignored.

        New documents without embeddings are embedded with the local model, as Chroma embeds them.
        """
        with checking("update"):
            batch = self._embedded(record_inputs.record_batch(ids, embeddings, metadatas, documents, uris,
                                                       allow_none_values=True), required=False)
        self._write("update", batch)

    def get(self, ids: Any = None, where: Mapping[str, Any] | None = None, limit: int | None = None,
            offset: int | None = None, where_document: Mapping[str, Any] | None = None,
            include: Sequence[str] = GET_INCLUDE) -> dict[str, Any]:
        """Records by id and/or filter, ``include`` defaulting to metadatas and documents.

        :param include: a list of field names, as Chroma takes it (``None`` or a tuple is refused).
        :raises InvalidArgument: for an argument Chroma refuses (``InvalidArgumentType`` where it raises
            ``TypeError``, ``DuplicateIds`` for an id given twice).
        """
        with checking("get"):
            id_items = None if ids is None else inputs.id_list(ids, allow_empty=True)
            check_filters(where, where_document)
            fields = inputs.include_list(include, GET_INCLUDE, allow_distances=False)
            page = inputs.optional_count(limit, "limit"), inputs.optional_count(offset, "offset")
        rows = self._get(id_items, where, where_document, *page, fields)
        return get_result(rows, fields)

    def peek(self, limit: int = 10) -> dict[str, Any]:
        """The first ``limit`` records with their embeddings."""
        with checking("peek"):
            count = inputs.optional_count(limit, "limit")
        return self.get(limit=count, include=["metadatas", "documents", "embeddings"])

    def query(self, query_embeddings: Any = None, query_texts: Any = None, *, ids: Any = None,
              n_results: int = 10, where: Mapping[str, Any] | None = None,
              where_document: Mapping[str, Any] | None = None, include: Sequence[str] = QUERY_INCLUDE,
              ) -> dict[str, Any]:
        """The ``n_results`` nearest records to each query, nearest first.

        :param query_embeddings: one vector or a list of them.
        :param query_texts: texts to embed with the local model instead.
        :param ids: search only among these ids; ``[]`` searches nothing (an empty result per query), an id the
            collection does not hold is refused, as Chroma refuses it.
        :raises UnknownIds: for ``ids`` the collection does not hold (Chroma's ``InternalError``).
        :raises InvalidArgument: for any other argument Chroma refuses.
        """
        with checking("query"):
            if (query_embeddings is None) == (query_texts is None):
                raise InvalidArgument("give exactly one of query_embeddings and query_texts")
            texts: list[Any] = []
            vectors = None
            if query_texts is not None:
                texts = inputs.one_or_many(query_texts) or []
                if not texts or not all(isinstance(t, str) for t in texts):
                    raise InvalidArgument("Expected query_texts to be a str or a non-empty list of str, got "
                                          f"{query_texts!r}")
            else:
                vectors = inputs.embedding_matrix(query_embeddings, None, "query_embeddings")
            id_items = None if ids is None else inputs.query_ids(ids)
            check_filters(where, where_document)
            fields = inputs.include_list(include, QUERY_INCLUDE, allow_distances=True)
            n = inputs.positive_int(n_results, "n_results")
        queries = len(texts) if vectors is None else len(vectors)
        if id_items == []:
            return query_result([[] for _ in range(queries)], fields)
        if id_items:
            missing = self._missing_ids(id_items)
            if missing:
                shown = ", ".join(repr(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
                raise UnknownIds(f"Error finding id: the collection {self.name!r} holds no record with id {shown} "
                                 "in query.")
        if vectors is None:
            vectors = embed_texts(texts)
        return query_result(self._query(vectors, n, where, where_document, id_items, fields), fields)

    def delete(self, ids: Any = None, where: Mapping[str, Any] | None = None,
               where_document: Mapping[str, Any] | None = None, limit: int | None = None) -> dict[str, int]:
        """Delete the records matching ``ids`` and the filters (all given must match).

        :param limit: delete at most this many of the matching records (Chroma 1.5's ``delete(limit=)``: only with
            ``where`` or ``where_document``). Which ones: the first in id order on PostgreSQL, in insertion order on
            Chroma (as ``get``'s pages).
        :return: ``{"deleted": n}``.
        """
        with checking("delete"):
            if ids is None and where is None and where_document is None:
                raise InvalidArgument("At least one of ids, where, or where_document must be provided")
            most = inputs.delete_limit(limit, where is not None or where_document is not None)
            id_items = None if ids is None else inputs.id_list(ids, allow_empty=True)
            check_filters(where, where_document)
        return {"deleted": self._delete(id_items, where, where_document, most)}

    def count(self) -> int:
        """The number of records."""
        return self._count()

    def _missing_ids(self, ids: list[str]) -> list[str]:
        """Of ``ids``, those the collection does not hold; a backend that refuses them itself returns ``[]``."""
        return []

    @abstractmethod
    def _write(self, mode: str, batch: RecordBatch) -> None:
        """Write a checked batch; ``mode`` is ``add`` | ``upsert`` | ``update``."""

    @abstractmethod
    def _get(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None,
             offset: int | None, include: list[str]) -> list[Row]:
        """Matching records."""

    @abstractmethod
    def _query(self, vectors: np.ndarray, n_results: int, where: Any, where_document: Any,
               ids: list[str] | None, include: list[str]) -> list[list[Row]]:
        """Nearest records per query vector, with distances by Chroma's definitions."""

    @abstractmethod
    def _delete(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None = None) -> int:
        """Delete matching records (at most ``limit`` of them); return how many."""

    @abstractmethod
    def _count(self) -> int:
        """Number of records."""


class VectorStore(ABC):
    """A set of collections on one backend (``postgres``, ``chroma`` or ``dual``)."""

    backend = "abstract"

    @abstractmethod
    def get_or_create_collection(self, name: str, metadata: Mapping[str, Any] | None = None,
                                 configuration: Mapping[str, Any] | None = None) -> Collection:
        """The collection ``name``, created when it does not exist.

        :param metadata: Chroma collection metadata (``hnsw:space`` ...); for an existing collection it is not
            changed, as in Chroma.
        :param configuration: Chroma collection configuration (``{"hnsw": {"space": "cosine"}}``).
        """

    @abstractmethod
    def get_collection(self, name: str) -> Collection:
        """An existing collection.

        :raises CollectionNotFound: when there is none of that name.
        """

    @abstractmethod
    def delete_collection(self, name: str) -> None:
        """Drop a collection and its records."""

    @abstractmethod
    def list_collections(self) -> list[str]:
        """Names of the collections, sorted."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and background work."""

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
