"""The Chroma source: open a store, describe collections, scan ids, fetch records by id.

A local store is read straight from its files when :mod:`vectorops.chroma_files` recognises them (fast, and
memory does not grow with the collection); otherwise, and for HTTP sources, through Chroma's API.
``VECTOROPS_CHROMA_READER`` chooses: ``auto`` (the default: files when possible), ``files`` (fail when the files
cannot be read directly) or ``api``.

chromadb is imported inside the functions that need it, never at module import.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from vectorops import chroma_files, chroma_store
from vectorops.chroma_store import SourceError
from vectorops.config import SettingError

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
READER_ENV = "VECTOROPS_CHROMA_READER"
READERS = ("auto", "files", "api")

SPACES = ("l2", "cosine", "ip")
# Chroma's built-in embedding functions that record no model name: its default is all-MiniLM-L6-v2 (ONNX)
DEFAULT_FUNCTION_MODELS = {"default": "all-MiniLM-L6-v2", "onnx_mini_lm_l6_v2": "all-MiniLM-L6-v2"}
DEFAULT_FUNCTION_DIMENSIONS = 384
ANY_DOCUMENT = {"$regex": "^"}  # matches every record that has a document, even an empty one


@dataclass(frozen=True)
class SourceSpec:
    """Where the Chroma store is: a PersistentClient path, or an HTTP server."""

    path: str | None = None
    host: str | None = None
    port: int = 8000

    @property
    def uri(self) -> str:
        """A stable description of the source, used in fingerprints and the registry."""
        if self.host:
            return f"chroma+http://{self.host}:{self.port}"
        return f"chroma+file://{Path(self.path or '').resolve()}"


@dataclass(frozen=True)
class CollectionInfo:
    """What a migration needs to know about one collection."""

    name: str
    collection_id: str
    count: int
    space: str
    dimensions: int | None
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int
    embedding_model: str | None


@dataclass(slots=True)
class RecordBatch:
    """Records fetched by id, in the order asked for. ``embeddings`` is float32 (rows, dims) or a list."""

    ids: list[str]
    embeddings: Any
    documents: list[str | None]
    metadatas: list[dict[str, Any] | None]
    uris: list[str | None]


@cache
def open_client(spec: SourceSpec) -> Any:
    """Open (once per process) the Chroma client for ``spec``; a path is checked first (:mod:`vectorops.chroma_store`).

    :raises SourceError: when the path is not a Chroma store this package can read as it is.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if spec.host:
        return chromadb.HttpClient(host=spec.host, port=spec.port, settings=settings)
    path = chroma_store.check_local_store(spec.path)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    try:
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as exc:  # chromadb raises many types for a broken store
        raise SourceError(f"Chroma path {str(path)!r} could not be opened: {exc}") from exc


def _unreadable(spec: SourceSpec, what: str, exc: Exception) -> SourceError:
    version = chroma_store.chromadb_version()
    return SourceError(f"{what} in {spec.uri} cannot be read by chromadb {version} ({type(exc).__name__}: {exc}); "
                       f"was it written by another Chroma version? Migrate it with a vectorops whose chromadb "
                       "matches the Chroma that wrote it")


def collection_names(spec: SourceSpec) -> list[str]:
    """Names of all collections in the store, sorted.

    :raises SourceError: naming the collections Chroma's client cannot read (a configuration of another version).
    """
    client = open_client(spec)
    try:
        return sorted(c if isinstance(c, str) else c.name for c in client.list_collections())
    except Exception as exc:  # chromadb raises InternalError for a configuration it cannot deserialize
        culprits = chroma_store.unreadable_collections(client, spec.path) if spec.path else []
        raise _unreadable(spec, f"collection(s) {', '.join(map(repr, culprits))}" if culprits else "its collections",
                          exc) from exc


def get_collection(spec: SourceSpec, name: str) -> Any:
    """The collection ``name``, without any embedding function attached.

    :raises SourceError: naming the collection and the ones that exist.
    """
    from chromadb.errors import NotFoundError

    client = open_client(spec)
    try:
        return client.get_collection(name)
    except NotFoundError as exc:
        known = ", ".join(collection_names(spec)) or "none"
        raise SourceError(f"collection {name!r} not found in {spec.uri} (collections: {known})") from exc
    except Exception as exc:
        raise _unreadable(spec, f"collection {name!r}", exc) from exc


def _as_int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def describe(spec: SourceSpec, name: str) -> CollectionInfo:
    """Read ``name``'s configuration: space, HNSW parameters, dimensions, count, model."""
    collection = get_collection(spec, name)
    metadata = dict(collection.metadata or {})
    config = collection.configuration_json or {}
    hnsw = config.get("hnsw") or {}
    spann = config.get("spann") or {}
    space = hnsw.get("space") or spann.get("space") or metadata.get("hnsw:space") or "l2"
    if space not in SPACES:
        raise SourceError(f"collection {name!r} uses distance space {space!r}; supported: {', '.join(SPACES)}")
    files = store_files(spec, name, space)
    count = files.count if files else collection.count()  # Chroma's count() loads the whole HNSW index
    dimensions = None
    if files and count:
        dimensions = files.dimensions  # checked against the stored elements' layout
    elif count:  # the model's own dimension can be stale after an add; a stored vector cannot
        first = collection.get(limit=1, include=["embeddings"])
        dimensions = len(first["embeddings"][0])
    model = metadata.get("embedding_model")
    if model is None:
        ef = config.get("embedding_function") or {}
        if isinstance(ef, dict):
            model = (ef.get("config") or {}).get("model_name")
            # every collection made without an embedding function records "default", even when its vectors
            # came from elsewhere: believe it only when the vectors have that model's 384 dimensions
            if model is None and dimensions == DEFAULT_FUNCTION_DIMENSIONS:
                model = DEFAULT_FUNCTION_MODELS.get(ef.get("name"))
    return CollectionInfo(
        name=name,
        collection_id=str(collection.id),
        count=count,
        space=space,
        dimensions=dimensions,
        hnsw_m=_as_int(hnsw.get("max_neighbors", metadata.get("hnsw:M")), 16),
        hnsw_ef_construction=_as_int(hnsw.get("ef_construction", metadata.get("hnsw:construction_ef")), 100),
        hnsw_ef_search=_as_int(hnsw.get("ef_search", metadata.get("hnsw:search_ef")), 100),
        embedding_model=str(model) if model is not None else None,
    )


def reader_setting() -> str:
    """``VECTOROPS_CHROMA_READER``: ``auto`` (default), ``files`` or ``api``.

    :raises SettingError: naming the variable when it holds anything else.
    """
    value = (os.environ.get(READER_ENV) or "auto").strip().lower()
    if value not in READERS:
        raise SettingError(f"{READER_ENV}={value!r} is not one of {', '.join(READERS)}")
    return value


@cache
def _open_files(path: str, name: str, space: str, check_values: bool) -> chroma_files.StoreCollection:
    return chroma_files.open_collection(path, name, space, check_values)


def store_files(spec: SourceSpec, name: str, space: str,
                staged_stamp: str | None = None) -> chroma_files.StoreCollection | None:
    """The collection located in the store's files, or ``None`` when it is to be read through the API.

    Located once per process, and again when the files changed since (their stamp differs).

    :param staged_stamp: the stamp recorded when the ids were staged from these files (their values were
        checked then): the value scan is skipped, and the caller compares the stamps.

    :raises SourceError: when ``VECTOROPS_CHROMA_READER=files`` and the files cannot be read directly.
    """
    mode = reader_setting()
    if mode == "api":
        return None
    if spec.host or not spec.path:
        if mode == "files":
            raise SourceError(f"{READER_ENV}=files, but collection {name!r} comes from {spec.uri}, not local files")
        return None
    key = (str(Path(spec.path).resolve()), name, space, staged_stamp is None)
    try:
        found = _open_files(*key)
        if chroma_files.current_stamp(found) != found.stamp:  # written since this process located it
            _open_files.cache_clear()
            found = _open_files(*key)
        return found
    except chroma_files.FilesUnreadable as exc:
        if mode == "files":
            raise SourceError(f"{READER_ENV}=files, but collection {name!r} in {spec.path!r} cannot be read from "
                              f"its files: {exc}") from exc
        log.info("collection %r in %s: reading through Chroma's API (%s)", name, spec.path, exc)
        return None


def forget_files() -> None:
    """Drop the per-process cache of located collections (after the store was rewritten)."""
    _open_files.cache_clear()


def max_batch(spec: SourceSpec, wanted: int) -> int:
    """``wanted``, capped by the client's ``get_max_batch_size()``."""
    return max(1, min(wanted, int(open_client(spec).get_max_batch_size())))


def has_documents(spec: SourceSpec, name: str, space: str | None = None) -> bool:
    """Whether any record of the collection has a document (read from the files when ``space`` is given)."""
    files = store_files(spec, name, space) if space else None
    if files:
        return chroma_files.has_documents(files)
    return bool(get_collection(spec, name).get(where_document=ANY_DOCUMENT, limit=1, include=[])["ids"])


def iter_id_pages(spec: SourceSpec, name: str, page: int) -> Iterator[list[str]]:
    """All ids of the collection, a page at a time (``include=[]``: no payload is read)."""
    collection = get_collection(spec, name)
    offset = 0
    while True:
        ids = collection.get(include=[], limit=page, offset=offset)["ids"]
        if not ids:
            return
        yield list(ids)
        offset += len(ids)


def fetch(spec: SourceSpec, name: str, ids: Sequence[str]) -> RecordBatch:
    """Fetch ``ids`` with embeddings, documents, metadatas and uris, in the order of ``ids``.

    :raises SourceError: when ids are missing from the source (it changed during the migration).
    """
    collection = get_collection(spec, name)
    got = collection.get(ids=list(ids), include=["embeddings", "documents", "metadatas", "uris"])
    position = {record_id: i for i, record_id in enumerate(got["ids"])}
    missing = [i for i in ids if i not in position]
    if missing or len(position) != len(ids):
        raise SourceError(f"collection {name!r} changed during the migration: {len(missing)} of {len(ids)} ids "
                          f"are missing from the source (first: {missing[:3]!r})")
    order = [position[i] for i in ids]
    embeddings = got["embeddings"]
    if isinstance(embeddings, np.ndarray):
        embeddings = embeddings[order] if order != list(range(len(order))) else embeddings
    else:
        embeddings = [embeddings[j] for j in order]

    def pick(key: str) -> list[Any]:
        values = got.get(key)
        return [None] * len(ids) if values is None else [values[j] for j in order]

    return RecordBatch(ids=list(ids), embeddings=embeddings, documents=pick("documents"),
                       metadatas=pick("metadatas"), uris=pick("uris"))


def _one_ahead(work: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``work(item)`` for each item in a worker thread, one item ahead of the consumer (two results at most)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-fetch") as pool:
        pending = None
        for item in items:
            following = pool.submit(work, item)
            if pending is not None:
                yield pending.result()
            pending = following
        if pending is not None:
            yield pending.result()


def fetch_ahead(spec: SourceSpec, name: str, id_batches: Iterable[Sequence[str]]) -> Iterator[RecordBatch]:
    """Fetch each batch of ids through Chroma's API, one batch ahead of the consumer, so reading Chroma
    overlaps the caller's work. At most two batches are in memory at once.
    """
    return _one_ahead(lambda ids: fetch(spec, name, ids), id_batches)


def changed_error(name: str, detail: str) -> SourceError:
    """The error for a source that changed between staging and loading."""
    return SourceError(f"collection {name!r} changed during the migration: {detail}; run the migration again")


def fetch_staged(spec: SourceSpec, name: str, space: str, stamp: str | None,
                 batches: Iterable[tuple[list[str], list[int] | None]]) -> Iterator[RecordBatch]:
    """Fetch staged batches of ids, one batch ahead of the consumer.

    :param stamp: the files' stamp when the ids were staged from them (their positions are then given), or
        ``None`` when they were staged through the API.
    :raises SourceError: when the files changed since the ids were staged, or an id is gone.
    """
    if stamp is None:
        yield from fetch_ahead(spec, name, (ids for ids, _ in batches))
        return
    files = store_files(spec, name, space, staged_stamp=stamp)
    if files is None:
        raise changed_error(name, "its ids were staged from the store's files, which can no longer be read")
    if chroma_files.current_stamp(files) != stamp:
        raise changed_error(name, "its files were written after the ids were staged")
    with chroma_files.StoreReader(files) as reader:

        def read(batch: tuple[list[str], list[int] | None]) -> RecordBatch:
            ids, positions = batch
            if positions is None or len(positions) != len(ids) or any(p is None for p in positions):
                raise changed_error(name, "an id was staged without its position in the files")
            try:
                documents, metadatas, uris = reader.fields(ids)
                vectors = reader.vectors(positions, ids)
            except KeyError as exc:
                raise changed_error(name, f"id {exc.args[0]!r} is no longer in the source") from exc
            except chroma_files.FilesUnreadable as exc:
                raise changed_error(name, str(exc)) from exc
            return RecordBatch(ids=ids, embeddings=vectors, documents=documents, metadatas=metadatas, uris=uris)

        yield from _one_ahead(read, batches)
