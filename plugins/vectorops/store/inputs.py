"""Arguments of the collection API, checked and normalised once for every backend, by Chroma's rules: collection
names, settings and metadata, ids, embeddings, ``include``, ``n_results`` and the limits.

Each rule mirrors what Chroma 1.5.9 accepts and refuses (``chromadb/api/types.py`` ``validate_*`` and
``CollectionCommon``; ``tests/store/test_chroma_inputs.py`` runs both side by side): a single id may stand for a
one-item list, and any other value that is no list is one item (so a tuple of ids is refused, as Chroma refuses it);
errors name the argument and are of Chroma's classes (``errors``). On top of those, texts that PostgreSQL cannot hold
exactly (a NUL character, invalid Unicode) are refused by every backend, so a service never writes into Chroma what it
could not move. The records' own fields (metadata, documents, uris) are checked in ``record_inputs``.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectorops.errors import UnstorableValue
from vectorops.metadata_json import check_text
from vectorops.store.errors import (
    DimensionMismatch,
    DuplicateIds,
    InvalidArgument,
    InvalidArgumentType,
    InvalidRecord,
)

GET_INCLUDE = ("metadatas", "documents")
QUERY_INCLUDE = ("metadatas", "documents", "distances")
INCLUDABLE = ("documents", "embeddings", "metadatas", "distances", "uris", "data")
SPACES = ("l2", "cosine", "ip")
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
        kind = InvalidArgumentType if not isinstance(name, str) else InvalidArgument  # Chroma's TypeError for a non-str
        raise kind(f"collection name {name!r}: expected a str of 3-512 characters from [a-zA-Z0-9._-], starting and "
                   "ending with a character in [a-zA-Z0-9]")
    return name


def name_argument(name: object) -> str:
    """The ``name`` of ``get_collection`` / ``delete_collection``: a str (Chroma raises ``TypeError`` for any other);
    a name no collection may have is simply not found."""
    if not isinstance(name, str):
        raise InvalidArgumentType(f"Expected the collection name to be a str, got {name!r}")
    return name


def _int_setting(value: object, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"collection setting {key}={value!r} must be an integer from {low} to {high}")
    return value


def hnsw_config(metadata: Mapping[str, Any] | None, configuration: Mapping[str, Any] | None) -> HnswConfig:
    """The space and HNSW parameters from Chroma-style collection ``metadata`` (``hnsw:space``, ``hnsw:M``,
    ``hnsw:construction_ef``, ``hnsw:search_ef``) or ``configuration={"hnsw": {...}}``; the latter wins.

    ``max_neighbors`` and ``ef_construction`` are taken as Chroma 1.5 takes them (any integer from 1; its own tests
    use M 128); what pgvector cannot build is mapped when the table is created, not refused."""
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgumentType(f"Expected the collection metadata to be a dict or None, got {metadata!r}")
    if configuration is not None and not isinstance(configuration, Mapping):
        raise InvalidArgumentType(f"Expected the collection configuration to be a dict or None, got {configuration!r}")
    meta = dict(metadata or {})
    hnsw_part = (configuration or {}).get("hnsw") or {}
    if not isinstance(hnsw_part, Mapping):
        raise InvalidArgumentType(f"Expected configuration['hnsw'] to be a dict, got {hnsw_part!r}")
    hnsw = dict(hnsw_part)
    space = hnsw.get("space", meta.get("hnsw:space", "l2"))
    if space not in SPACES:
        raise InvalidArgument(f"distance space {space!r} is not one of {', '.join(SPACES)}")
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
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentType(f"Expected the collection metadata to be a dict or None, got {metadata!r}")
    if not metadata:
        raise InvalidArgument(f"collection metadata must be a non-empty dict or None, got {metadata!r}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool):
            raise InvalidArgumentType(f"collection metadata {key!r}: {value!r} must be a str, int, float or bool")
    return dict(metadata)


def one_or_many(value: Any) -> list[Any] | None:
    """Chroma's ``maybe_cast_one_to_many``: a list passes through, ``None`` stays ``None``, anything else is one
    item (so a tuple of ids is one id, refused by the type check that follows, as in Chroma)."""
    if value is None:
        return None
    if isinstance(value, list):
        return value
    return [value]


def id_list(ids: Any, what: str = "ids", *, allow_empty: bool = False) -> list[str]:
    """Ids as a non-empty list of unique, storable strings.

    :param what: the argument's name, for the message.
    :param allow_empty: take ``""`` (``get`` / ``delete`` match nothing by it; ``add`` refuses it, as Chroma does).
    :raises DuplicateIds: for an id given twice (Chroma's ``DuplicateIDError``).
    :raises InvalidArgument: for anything else Chroma refuses.
    """
    items = one_or_many(ids)
    if not items:
        raise InvalidArgument(f"Expected {what} to be a non-empty list of str, got {ids!r}")
    seen: set[str] = set()
    duplicates: list[str] = []
    for record_id in items:
        if not isinstance(record_id, str):
            raise InvalidArgument(f"Expected ID to be a str, got {record_id!r}")
        if not record_id and not allow_empty:
            raise InvalidArgument("Empty ID, ID must have at least one character")
        storable_text(record_id, "id")
        if record_id in seen:
            duplicates.append(record_id)
        seen.add(record_id)
    if duplicates:
        raise DuplicateIds(f"Expected IDs to be unique, found duplicates of: {', '.join(sorted(set(duplicates)))}")
    return items


def query_ids(ids: Any) -> list[str]:
    """``query(ids=...)``: a str or a list of str, possibly empty (then nothing is searched), duplicates taken once.

    :raises InvalidArgumentType: for an id that is no str (Chroma raises ``TypeError``).
    """
    items = one_or_many(ids) or []
    for record_id in items:
        if not isinstance(record_id, str):
            raise InvalidArgumentType(f"Expected ids to hold str, got {record_id!r}")
        storable_text(record_id, "id")
    return list(dict.fromkeys(items))


def storable_text(text: str, what: str) -> None:
    """Refuse, as :class:`InvalidRecord`, a text PostgreSQL cannot hold exactly (a NUL character, invalid Unicode)."""
    try:
        check_text(text, what)
    except UnstorableValue as exc:
        raise InvalidRecord(str(exc)) from exc


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def embedding_matrix(embeddings: Any, rows: int | None, what: str = "embeddings") -> np.ndarray:
    """Embeddings as a finite float32 (n, d) matrix, taken as Chroma takes them: a numpy array (one vector or a
    matrix), a list of numbers (one vector), or a list of number lists or of numpy arrays.

    Strings, bools, ``None`` and tuples are refused, as Chroma refuses them: numbers are never parsed from text.

    :param what: the argument's name (``embeddings`` / ``query_embeddings``), for the message.
    """
    def expected() -> InvalidArgument:
        shown = reprlib.repr(embeddings)
        return InvalidArgument(f"Expected {what} to be a list of floats or ints, a list of lists, a numpy array, or a "
                               f"list of numpy arrays, got {shown}")

    if isinstance(embeddings, np.ndarray):
        array = embeddings
    elif isinstance(embeddings, list):
        if not embeddings:
            raise InvalidArgument(f"Expected {what} to be a non-empty list or numpy array, got []")
        first = embeddings[0]
        probe = first[0] if isinstance(first, list | np.ndarray) and len(first) else first
        if isinstance(probe, bool | np.bool_) or (not isinstance(first, list | np.ndarray) and not _numeric(first)):
            raise expected()
        try:
            array = np.asarray(embeddings)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{what} must be a list of equally long number lists: {exc}") from exc
    else:
        raise expected()
    if array.dtype.kind not in "iuf":
        raise expected()
    matrix = array.astype(np.float32, copy=False)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise InvalidArgument(f"{what} must be a list of non-empty vectors, got shape {matrix.shape}")
    if rows is not None and matrix.shape[0] != rows:
        raise InvalidArgument(f"Unequal lengths for fields: ids: {rows}, {what}: {matrix.shape[0]}")
    if not np.isfinite(matrix).all():
        raise InvalidRecord(f"{what} must not contain NaN or Infinity values")
    return np.ascontiguousarray(matrix)


def check_dimensions(matrix: np.ndarray, dimensions: int | None) -> None:
    """Raise :class:`DimensionMismatch` in Chroma's words when the vectors' length is not the collection's."""
    if dimensions is not None and matrix.shape[1] != dimensions:
        raise DimensionMismatch(f"Collection expecting embedding with dimension of {dimensions}, "
                                f"got {matrix.shape[1]}")


def include_list(include: Any, default: Sequence[str], allow_distances: bool) -> list[str]:
    """The fields to return: a list of Chroma's names, ``distances`` only for ``query``; ``data`` is refused.

    :param include: what the caller gave; ``default`` itself (the signature's default) stands for its items.
    :raises InvalidArgument: for ``None``, a tuple or anything else that is no list, as Chroma refuses them.
    """
    if include is default:
        return list(default)
    if not isinstance(include, list):
        raise InvalidArgument(f"Expected include to be a list, got {include!r}")
    for item in include:
        if not isinstance(item, str):
            raise InvalidArgument(f"Expected include item to be a str, got {item!r}")
        if item not in INCLUDABLE:
            raise InvalidArgument(f"Expected include item to be one of {', '.join(INCLUDABLE)}, got {item!r}")
        if item == "distances" and not allow_distances:
            raise InvalidArgument("Include item cannot be one of distances, got distances")
        if item == "data":
            raise InvalidArgument("include 'data' needs a Chroma data loader, which the store does not offer")
    return list(include)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value: Any, what: str) -> int:
    """``n_results``: an int of at least 1 (Chroma raises ``TypeError`` for one below 1, ``ValueError`` for a
    value that is no int; a bool is refused, though Chroma takes ``True`` as 1)."""
    if not _int(value):
        raise (InvalidArgumentType if isinstance(value, bool) else InvalidArgument)(
            f"Expected {what} to be an int of at least 1, got {value!r}")
    if value < 1:  # Chroma's own words first (its tests match them), then the argument's name
        raise InvalidArgumentType(f"Number of requested results {value}, cannot be negative, or zero. "
                                  f"(Expected {what} to be an int of at least 1)")
    return int(value)


def optional_count(value: Any, what: str) -> int | None:
    """``limit`` / ``offset``: ``None`` or an int of at least 0 (one of another type is Chroma's ``TypeError``)."""
    if value is None:
        return None
    if not _int(value):
        raise InvalidArgumentType(f"Expected {what} to be None or an int of at least 0, got {value!r}")
    if value < 0:
        raise InvalidArgument(f"Expected {what} to be None or an int of at least 0, got {value!r}")
    return int(value)


def delete_limit(limit: Any, filtered: bool) -> int | None:
    """``delete(limit=)`` as Chroma 1.5.9 checks it: ``None``, or an int of at least 0 given with a ``where`` or
    ``where_document`` filter.

    :param filtered: whether ``where`` or ``where_document`` was given.
    """
    if limit is None:
        return None
    if not _int(limit):
        raise InvalidArgumentType(f"limit must be a non-negative integer, got {limit!r}")
    if limit < 0:
        raise InvalidArgument(f"limit must be a non-negative integer, got {limit!r}")
    if not filtered:
        raise InvalidArgument("limit can only be specified when a where or where_document clause is provided")
    return int(limit)
