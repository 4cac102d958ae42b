"""Arguments of the collection API, checked and normalised once for every backend, by Chroma's rules.

Each rule mirrors what Chroma 1.5 accepts (see ``tests/store/test_inputs.py``). On top of those, values that
PostgreSQL cannot hold exactly (a NUL character, invalid Unicode, a non-finite metadata number, an integer beyond
64 bits) are refused by every backend, so a service never writes into Chroma what it could not move.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectorops.errors import UnstorableValue
from vectorops.metadata_json import check_text
from vectorops.store.errors import DimensionMismatch, InvalidRecord, StoreError

GET_INCLUDE = ("metadatas", "documents")
QUERY_INCLUDE = ("metadatas", "documents", "distances")
INCLUDABLE = ("documents", "embeddings", "metadatas", "distances", "uris", "data")
SPACES = ("l2", "cosine", "ip")
INT64 = (-(2 ** 63), 2 ** 63 - 1)
INT32_MAX = 2 ** 31 - 1  # the registry's integer columns
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")


@dataclass(frozen=True)
class RecordBatch:
    """Records to write, one entry per id; ``None`` for a field means it was not given at all.

    :param embeddings: float32 (n, d), or ``None`` (update without vectors).
    :param metadatas: per record a dict (a ``None`` value removes the key in update/upsert) or ``None``.
    """

    ids: list[str]
    embeddings: np.ndarray | None
    metadatas: list[dict[str, Any] | None] | None
    documents: list[str | None] | None
    uris: list[str | None] | None


@dataclass(frozen=True)
class HnswConfig:
    """A collection's distance space and HNSW parameters as the caller gave them (Chroma's defaults when not given);
    the PostgreSQL side builds ``m`` and ``ef_construction`` as pgvector takes them
    (:func:`vectorops.load.hnsw_params.pgvector_hnsw`)."""

    space: str = "l2"
    m: int = 16
    ef_construction: int = 100
    ef_search: int = 100


def collection_name(name: object) -> str:
    """Check a collection name by Chroma's rule: 3–512 characters of ``[a-zA-Z0-9._-]``, alphanumeric ends."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(f"collection name {name!r}: expected 3-512 characters from [a-zA-Z0-9._-], starting and "
                         "ending with a character in [a-zA-Z0-9]")
    return name


def _int_setting(value: object, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StoreError(f"collection setting {key}={value!r} must be an integer from {low} to {high}")
    return value


def hnsw_config(metadata: Mapping[str, Any] | None, configuration: Mapping[str, Any] | None) -> HnswConfig:
    """The space and HNSW parameters from Chroma-style collection ``metadata`` (``hnsw:space``, ``hnsw:M``,
    ``hnsw:construction_ef``, ``hnsw:search_ef``) or ``configuration={"hnsw": {...}}``; the latter wins.

    ``max_neighbors`` and ``ef_construction`` are taken as Chroma 1.5 takes them (any integer from 1; its own tests
    use M 128); what pgvector cannot build is mapped when the table is created, not refused."""
    meta = dict(metadata or {})
    hnsw = dict((configuration or {}).get("hnsw") or {})
    space = hnsw.get("space", meta.get("hnsw:space", "l2"))
    if space not in SPACES:
        raise StoreError(f"distance space {space!r} is not one of {', '.join(SPACES)}")
    return HnswConfig(
        space=space,
        m=_int_setting(hnsw.get("max_neighbors", meta.get("hnsw:M", 16)), "max_neighbors", 1, INT32_MAX),
        ef_construction=_int_setting(hnsw.get("ef_construction", meta.get("hnsw:construction_ef", 100)),
                                     "ef_construction", 1, INT32_MAX),
        ef_search=_int_setting(hnsw.get("ef_search", meta.get("hnsw:search_ef", 100)), "ef_search", 1, 1000))


def collection_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Collection metadata as Chroma takes it: ``None`` or a non-empty dict of scalar values."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not metadata:
        raise StoreError(f"collection metadata must be a non-empty dict or None, got {metadata!r}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool):
            raise StoreError(f"collection metadata {key!r}: {value!r} must be a str, int, float or bool")
    return dict(metadata)


def one_or_many(value: Any) -> list[Any] | None:
    """A single id, document, uri or metadata as a one-item list; lists pass through."""
    if value is None:
        return None
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


def id_list(ids: Any, what: str = "ids") -> list[str]:
    """Ids as a list of non-empty, unique, storable strings."""
    items = one_or_many(ids)
    if not items:
        raise StoreError(f"Expected {what} to be a non-empty list of str")
    seen: set[str] = set()
    duplicates: list[str] = []
    for record_id in items:
        if not isinstance(record_id, str):
            raise StoreError(f"Expected ID to be a str, got {record_id!r}")
        if not record_id:
            raise StoreError("Empty ID, ID must have at least one character")
        _storable(record_id, "id")
        if record_id in seen:
            duplicates.append(record_id)
        seen.add(record_id)
    if duplicates:
        raise StoreError(f"Expected IDs to be unique, found duplicates of: {', '.join(sorted(set(duplicates)))}")
    return items


def _storable(text: str, what: str) -> None:
    try:
        check_text(text, what)
    except UnstorableValue as exc:
        raise InvalidRecord(str(exc)) from exc


def embedding_matrix(embeddings: Any, rows: int | None, what: str = "embeddings") -> np.ndarray:
    """Embeddings as a finite float32 (n, d) matrix; one vector may be given flat."""
    try:
        matrix = np.asarray(embeddings, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} must be a list of equally long number lists: {exc}") from exc
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise StoreError(f"{what} must be a list of non-empty vectors, got shape {matrix.shape}")
    if rows is not None and matrix.shape[0] != rows:
        raise StoreError(f"Unequal lengths for fields: ids: {rows}, {what}: {matrix.shape[0]}")
    if not np.isfinite(matrix).all():
        raise InvalidRecord(f"{what} must not contain NaN or Infinity values")
    return np.ascontiguousarray(matrix)


def check_dimensions(matrix: np.ndarray, dimensions: int | None) -> None:
    """Raise :class:`DimensionMismatch` in Chroma's words when the vectors' length is not the collection's."""
    if dimensions is not None and matrix.shape[1] != dimensions:
        raise DimensionMismatch(f"Collection expecting embedding with dimension of {dimensions}, "
                                f"got {matrix.shape[1]}")


def _metadata_value(key: str, value: Any, allow_none: bool) -> None:
    if value is None:
        if not allow_none:
            raise InvalidRecord(f"metadata {key!r} is None: None removes a key in update/upsert, but add needs "
                                "a value")
        return
    if isinstance(value, bool | str):
        if isinstance(value, str):
            _storable(value, f"metadata {key!r}")
        return
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise InvalidRecord(f"metadata {key!r}={value} is beyond a 64-bit integer")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRecord(f"metadata {key!r} is {value!r}; jsonb cannot store NaN or Infinity")
        return
    if isinstance(value, list):
        if not value:
            raise InvalidRecord(f"Expected metadata list value for key {key!r} to be non-empty")
        kind = type(value[0])
        if kind not in (str, int, float, bool) or any(type(item) is not kind for item in value):
            raise InvalidRecord(f"Expected metadata list value for key {key!r} to contain only str, int, float, "
                                f"or bool and all elements must be the same type, got {value!r}")
        for item in value:
            _metadata_value(key, item, allow_none=False)
        return
    raise InvalidRecord(f"Expected metadata value to be a str, int, float, bool, list, or None, got {value!r} "
                        f"which is a {type(value).__name__}")


def metadata_list(metadatas: Any, rows: int, allow_none_values: bool) -> list[dict[str, Any] | None]:
    """Per-record metadata, each ``None`` or a non-empty dict of Chroma metadata values."""
    items = one_or_many(metadatas) or []
    if len(items) != rows:
        raise StoreError(f"Unequal lengths for fields: ids: {rows}, metadatas: {len(items)}")
    out: list[dict[str, Any] | None] = []
    for meta in items:
        if meta is None:
            out.append(None)
            continue
        if not isinstance(meta, Mapping) or not meta:
            raise InvalidRecord(f"Expected metadata to be a non-empty dict, got {meta!r}")
        for key, value in meta.items():
            if not isinstance(key, str) or not key or key.startswith(("$", "#")):
                raise InvalidRecord(f"metadata key {key!r}: keys must be non-empty strings not starting with $ or #")
            _storable(key, "metadata key")
            _metadata_value(key, value, allow_none_values)
        out.append(dict(meta))
    return out


def text_list(values: Any, rows: int, what: str) -> list[str | None]:
    """Documents or uris: one per id, each a storable str or ``None``."""
    items = one_or_many(values) or []
    if len(items) != rows:
        raise StoreError(f"Unequal lengths for fields: ids: {rows}, {what}: {len(items)}")
    for item in items:
        if item is not None:
            if not isinstance(item, str):
                raise InvalidRecord(f"Expected {what} to hold str or None, got {item!r}")
            _storable(item, what[:-1])
    return items


def record_batch(ids: Any, embeddings: Any, metadatas: Any, documents: Any, uris: Any, *,
                 allow_none_values: bool) -> RecordBatch:
    """Check the arguments of ``add`` / ``upsert`` / ``update``; the caller embeds documents when needed."""
    id_items = id_list(ids)
    rows = len(id_items)
    return RecordBatch(
        ids=id_items,
        embeddings=None if embeddings is None else embedding_matrix(embeddings, rows),
        metadatas=None if metadatas is None else metadata_list(metadatas, rows, allow_none_values),
        documents=None if documents is None else text_list(documents, rows, "documents"),
        uris=None if uris is None else text_list(uris, rows, "uris"))


def include_list(include: Any, default: Sequence[str], allow_distances: bool) -> list[str]:
    """The fields to return: Chroma's names, ``distances`` only for ``query``; ``data`` is refused."""
    items = list(default) if include is None else include
    if not isinstance(items, list | tuple):
        raise StoreError(f"Expected include to be a list, got {include!r}")
    for item in items:
        if item not in INCLUDABLE:
            raise StoreError(f"Expected include item to be one of {', '.join(INCLUDABLE)}, got {item!r}")
        if item == "distances" and not allow_distances:
            raise StoreError("Include item cannot be one of distances, got distances")
        if item == "data":
            raise StoreError("include 'data' needs a Chroma data loader, which the store does not offer")
    return list(items)


def positive_int(value: Any, what: str) -> int:
    """``n_results``: an int of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StoreError(f"Expected {what} to be an int of at least 1, got {value!r}")
    return value


def optional_count(value: Any, what: str) -> int | None:
    """``limit`` / ``offset``: ``None`` or an int of at least 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StoreError(f"Expected {what} to be None or an int of at least 0, got {value!r}")
    return value
