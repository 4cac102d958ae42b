"""The records' fields for ``add`` / ``upsert`` / ``update``, checked and normalised once for every backend, by
Chroma's rules: per-record metadata, documents and uris, and the whole batch (:func:`record_batch`).

Each rule mirrors what Chroma 1.5.9 accepts and refuses (``chromadb/api/types.py`` ``validate_*`` and
``CollectionCommon``; ``tests/store/test_chroma_inputs.py`` runs both side by side): a single document, uri or
metadata may stand for a one-item list; errors name the argument and are of Chroma's classes (``errors``). On top of
those, values that PostgreSQL cannot hold exactly (a NUL character, invalid Unicode, a non-finite metadata number, an
integer beyond 64 bits) are refused by every backend, so a service never writes into Chroma what it could not move.
A metadata ``-0.0`` is written as ``0.0`` on every backend: Chroma itself gives it back as ``0.0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vectorops.store.errors import InvalidArgument, InvalidArgumentType, InvalidRecord
from vectorops.store.inputs import RecordBatch, embedding_matrix, id_list, one_or_many, storable_text

INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _metadata_value(key: str, value: Any, allow_none: bool) -> None:
    if value is None:
        if not allow_none:
            raise InvalidRecord(f"metadata {key!r} is None: None removes a key in update/upsert, but add needs "
                                "a value")
        return
    if isinstance(value, bool | str):
        if isinstance(value, str):
            storable_text(value, f"metadata {key!r}")
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
        raise InvalidArgument(f"Unequal lengths for fields: ids: {rows}, metadatas: {len(items)}")
    out: list[dict[str, Any] | None] = []
    for meta in items:
        if meta is None:
            out.append(None)
            continue
        if not isinstance(meta, Mapping) or not meta:
            raise InvalidRecord(f"Expected metadata to be a non-empty dict, got {meta!r}")
        for key, value in meta.items():
            if not isinstance(key, str):
                raise InvalidArgumentType(f"Expected metadata key to be a str, got {key!r} which is a "
                                          f"{type(key).__name__}")
            if not key or key.startswith(("$", "#")):
                raise InvalidRecord(f"metadata key {key!r}: keys must be non-empty strings not starting with $ or #")
            storable_text(key, "metadata key")
            _metadata_value(key, value, allow_none_values)
        out.append({key: _positive_zero(value) for key, value in meta.items()})
    return out


def _positive_zero(value: Any) -> Any:
    """``value`` with ``-0.0`` (alone or in a list) as ``0.0``, as Chroma 1.5.9 stores it (jsonb has no
    negative zero either), so both backends of ``dual`` hold, and give back, the same."""
    if isinstance(value, float) and value == 0.0:
        return 0.0
    if isinstance(value, list):
        return [_positive_zero(item) for item in value]
    return value


def text_list(values: Any, rows: int, what: str) -> list[str | None]:
    """Documents or uris: one per id, each a storable str or ``None``."""
    items = one_or_many(values) or []
    if len(items) != rows:
        raise InvalidArgument(f"Unequal lengths for fields: ids: {rows}, {what}: {len(items)}")
    for item in items:
        if item is not None:
            if not isinstance(item, str):
                if what == "uris":  # Chroma's own binding refuses it with a TypeError
                    raise InvalidArgumentType(f"Expected uris to hold str or None, got {item!r}")
                raise InvalidRecord(f"Expected {what} to hold str or None, got {item!r}")
            storable_text(item, what[:-1])
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
