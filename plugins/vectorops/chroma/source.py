"""The Chroma source: open a store, list and describe its collections.

A local store is read straight from its files when :mod:`vectorops.chroma.files.reader` recognises them (fast, and
memory does not grow with the collection); otherwise, and for HTTP sources, through Chroma's API
(:mod:`vectorops.chroma.locate` decides which). Records are read by :mod:`vectorops.chroma.fetch`.

chromadb is imported inside the functions that need it, never at module import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from vectorops.chroma import preflight, snapshot
from vectorops.chroma.api_errors import api_errors, unreadable
from vectorops.chroma.files import catalog
from vectorops.chroma.files.versions import RUST
from vectorops.chroma.locate import locate_files
from vectorops.chroma.preflight import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionRef, SourceSpec, as_ref
from vectorops.chroma.settings import resolve_settings
from vectorops.errors import FilesUnreadable, SourceError

# Chroma's built-in embedding functions that record no model name: its default is all-MiniLM-L6-v2 (ONNX)
DEFAULT_FUNCTION_MODELS = {"default": "all-MiniLM-L6-v2", "onnx_mini_lm_l6_v2": "all-MiniLM-L6-v2"}
DEFAULT_FUNCTION_DIMENSIONS = 384
ANY_DOCUMENT = {"$regex": "^"}  # matches every record that has a document, even an empty one


@dataclass(frozen=True)
class CollectionInfo:
    """What a migration needs to know about one collection.

    :param name: the bare Chroma name; ``tenant`` and ``database`` say where it lives.
    :param reader: how its records are read: ``files``, ``api-snapshot`` (Chroma's client on a private copy of a
        local store) or ``api-server``; ``reader_reason`` says why.
    :param settings_origin: where the space and HNSW parameters came from (``metadata``, ``schema``,
        ``configuration`` or ``default``), as ``field=origin`` pairs.
    """

    name: str
    collection_id: str
    count: int
    space: str
    dimensions: int | None
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int
    embedding_model: str | None
    tenant: str = DEFAULT_TENANT
    database: str = DEFAULT_DATABASE
    reader: str = "files"
    reader_reason: str = ""
    settings_origin: str = ""

    @property
    def ref(self) -> CollectionRef:
        """The collection's identity in its store."""
        return CollectionRef(self.tenant, self.database, self.name)


@dataclass(slots=True)
class RecordBatch:
    """Records fetched by id, in the order asked for. ``embeddings`` is float32 (rows, dims) or a list."""

    ids: list[str]
    embeddings: Any
    documents: list[str | None]
    metadatas: list[dict[str, Any] | None]
    uris: list[str | None]


@cache
def open_client(spec: SourceSpec, tenant: str | None = None, database: str | None = None) -> Any:
    """Chroma's client for ``spec`` (once per process, tenant and database).

    A server is reached through :mod:`vectorops.chroma.server` (TLS, credentials from the connection). A local
    store is never opened where it is: Chroma's client writes on open, so the client opens this process's
    private copy (:mod:`vectorops.chroma.snapshot`).

    :raises SourceError: when the path is not a Chroma store this package can read, or the copy cannot be opened.
    """
    if spec.host:
        from vectorops.chroma import server

        return server.open_http_client(spec, tenant, database)
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path = preflight.check_local_store(spec.path)
    copy = snapshot.private_copy(path)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    try:
        return chromadb.PersistentClient(path=str(copy), settings=ChromaSettings(anonymized_telemetry=False),
                                         tenant=tenant or DEFAULT_TENANT, database=database or DEFAULT_DATABASE)
    except Exception as exc:  # chromadb raises many types for a broken store
        raise SourceError(f"Chroma path {str(path)!r} could not be opened (a private copy, by chromadb "
                          f"{preflight.chromadb_version()}): {exc}") from exc


def list_collections(spec: SourceSpec) -> list[CollectionRef]:
    """Every collection of the source, in every tenant and database, sorted by tenant, database and name.

    A local store is listed from its system tables; a server, in its tenant's databases (:mod:`chroma_server`).

    :raises SourceError: naming the store when its system tables cannot be read.
    """
    if spec.host:
        from vectorops.chroma import server

        return server.list_collections(spec)
    path = preflight.check_local_store(spec.path)
    try:
        return [entry.ref for entry in catalog.read_catalog(path)]
    except (FilesUnreadable, ValueError) as exc:
        raise SourceError(f"Chroma path {str(path)!r}: its collections cannot be listed: {exc}") from exc


def collection_names(spec: SourceSpec) -> list[str]:
    """The labels of all collections (``name``, or ``tenant/database/name`` outside the defaults), sorted."""
    return [ref.label for ref in list_collections(spec)]


def get_collection(spec: SourceSpec, name: CollectionRef | str) -> Any:
    """The collection through Chroma's API (a server, or the private copy of a local store), without any
    embedding function attached.

    :raises SourceError: naming the collection and the ones that exist.
    """
    from chromadb.errors import NotFoundError

    ref = as_ref(name)
    client = open_client(spec, ref.tenant, ref.database)
    try:
        return client.get_collection(ref.name)
    except NotFoundError as exc:
        known = ", ".join(collection_names(spec)) or "none"
        raise SourceError(f"collection {ref.label!r} not found in {spec.uri} (collections: {known})") from exc
    except Exception as exc:
        if spec.host:
            from vectorops.chroma import server

            raise server.source_error(spec, exc, ref.tenant, ref.database) from None
        raise unreadable(spec, f"collection {ref.label!r}", exc) from exc


def _model(name: str | None, function: str | None, dimensions: int | None) -> str | None:
    # every collection made without an embedding function records "default", even when its vectors came from
    # elsewhere: believe it only when the vectors have that model's 384 dimensions
    if name is None and dimensions == DEFAULT_FUNCTION_DIMENSIONS:
        return DEFAULT_FUNCTION_MODELS.get(function or "")
    return name


def describe(spec: SourceSpec, name: CollectionRef | str) -> CollectionInfo:
    """Read a collection's configuration: space, HNSW parameters, dimensions, count, model, and its reader.

    The space and HNSW parameters are resolved as the Chroma that wrote the store resolves them
    (:mod:`vectorops.chroma.settings`). A local store is described from its files alone.

    :raises SourceError: naming the collection when it does not exist or its space is not supported.
    """
    ref = as_ref(name)
    if spec.host:
        return _describe_server(spec, ref)
    path = preflight.check_local_store(spec.path)
    try:
        entry = catalog.find(path, ref)
    except ValueError as exc:
        raise SourceError(f"collection {ref.label!r} in {spec.uri}: {exc}") from exc
    except FilesUnreadable as exc:
        raise SourceError(f"Chroma path {str(path)!r}: its collections cannot be listed: {exc}") from exc
    if entry is None:
        known = ", ".join(collection_names(spec)) or "none"
        raise SourceError(f"collection {ref.label!r} not found in {spec.uri} (collections: {known})")
    if entry.settings is None:
        raise SourceError(f"{entry.problem} in {spec.uri}: a setting no Chroma vectorops knows writes; it is not "
                          "migrated (the store's other collections are)")
    settings = entry.settings
    files, why = locate_files(spec, ref, settings.space)
    if files is not None:
        count, dimensions, reader = files.count, files.dimensions if files.count else None, "files"
    else:
        handle = get_collection(spec, ref)
        with api_errors(spec, ref, "count and sample its records"):
            count, reader = handle.count(), "api-snapshot"
            dimensions = len(handle.get(limit=1, include=["embeddings"])["embeddings"][0]) if count else None
    return CollectionInfo(
        name=ref.name, tenant=ref.tenant, database=ref.database, collection_id=entry.collection_id, count=count,
        space=settings.space, dimensions=dimensions, hnsw_m=settings.m, hnsw_ef_construction=settings.ef_construction,
        hnsw_ef_search=settings.ef_search, reader=reader, reader_reason=why,
        settings_origin=", ".join(f"{k}={v}" for k, v in settings.origins),
        embedding_model=_model(entry.metadata.get("embedding_model") or settings.model_name,
                               settings.embedding_function, dimensions))


def _describe_server(spec: SourceSpec, ref: CollectionRef) -> CollectionInfo:
    collection = get_collection(spec, ref)
    metadata = dict(collection.metadata or {})
    try:
        schema = getattr(collection, "_model", None)
        schema = getattr(schema, "serialized_schema", None) or {}  # the server's 1.3+ index settings live here
        settings = resolve_settings(metadata, collection.configuration_json or {}, schema if isinstance(
            schema, dict) else {}, writer=RUST)
    except ValueError as exc:
        raise SourceError(f"collection {ref.label!r} in {spec.uri}: {exc}") from exc
    with api_errors(spec, ref, "count and sample its records"):
        count = collection.count()
        dimensions = len(collection.get(limit=1, include=["embeddings"])["embeddings"][0]) if count else None
    return CollectionInfo(
        name=ref.name, tenant=ref.tenant, database=ref.database, collection_id=str(collection.id), count=count,
        space=settings.space, dimensions=dimensions, hnsw_m=settings.m, hnsw_ef_construction=settings.ef_construction,
        hnsw_ef_search=settings.ef_search, reader="api-server", reader_reason=f"the source is the server {spec.uri}",
        settings_origin=", ".join(f"{k}={v}" for k, v in settings.origins),
        embedding_model=_model(metadata.get("embedding_model") or settings.model_name, settings.embedding_function,
                               dimensions))


#: records per ``get(ids=...)`` through the API of a local store's copy (SQLite's variable limit is near 32k)
LOCAL_API_BATCH = 5000


def max_batch(spec: SourceSpec, wanted: int, name: CollectionRef | str | None = None) -> int:
    """``wanted``, capped by the server's ``get_max_batch_size()`` (a local store: :data:`LOCAL_API_BATCH`).

    :param name: the collection to be read (a server's client is per tenant and database).
    """
    if not spec.host:
        return max(1, min(wanted, LOCAL_API_BATCH))
    ref = as_ref(name) if name is not None else None
    client = open_client(spec, ref.tenant if ref else spec.tenant, ref.database if ref else spec.database)
    return max(1, min(wanted, int(client.get_max_batch_size())))
