"""Source records: what PostgreSQL can hold, and quarantine payloads (metadata JSON: :mod:`vectorops.metadata_json`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from vectorops.errors import UnstorableValue
from vectorops.metadata_json import MetadataValue, batch_metadata_json, check_text, metadata_json, valid_text


@dataclass(slots=True)
class SourceRecord:
    """One Chroma record as read: the embedding is a float32 row, or ``None`` when absent."""

    id: str
    embedding: np.ndarray | None
    document: str | None
    metadata: Mapping[str, MetadataValue] | None
    uri: str | None


NO_EMBEDDING = "record has no embedding"
NON_FINITE = "embedding has non-finite values (NaN or Infinity), which pgvector cannot store"


def wrong_dimensions(found: int, expected: int) -> str:
    """The quarantine reason for an embedding of the wrong length."""
    return f"embedding has {found} dimensions; the table has {expected}"


def checked_fields(record_id: str, document: str | None, uri: str | None,
                   metadata: Mapping[str, MetadataValue] | None) -> str | None:
    """Check the text fields of a record and encode its metadata (``None`` when it has none).

    :raises UnstorableValue: naming the field PostgreSQL cannot hold as it is.
    """
    check_text(record_id, "id")
    if document is not None:
        check_text(document, "document")
    if uri is not None:
        check_text(uri, "uri")
    return metadata_json(metadata) if metadata is not None else None


def batch_checked_fields(ids: Sequence[str], documents: Sequence[str | None], uris: Sequence[str | None],
                         metadatas: Sequence[Mapping[str, MetadataValue] | None]) -> list[str | None] | None:
    """:func:`checked_fields` for a whole batch at once: the metadata JSON of each record.

    Returns ``None`` when any record is unusual (a NUL, invalid Unicode, a nested, non-finite, exponent or
    negative-zero value, a non-string key, an int beyond 64 bits); the caller then checks record by record,
    which names the problem.

    :param ids: the batch's ids.
    :param documents: its documents, ``None`` where a record has none.
    :param uris: its uris, ``None`` where a record has none.
    :param metadatas: its metadata, ``None`` where a record has none.
    """
    if not valid_text("".join(chain(ids, (d for d in documents if d is not None),
                                    (u for u in uris if u is not None)))):
        return None
    return batch_metadata_json(metadatas)


def embedding_matrix(embeddings: object, rows: int, dimensions: int | None) -> tuple[np.ndarray, list[str | None]]:
    """A float32 (rows, d) matrix of a batch's embeddings and, per row, why one cannot be stored (or ``None``).

    :param embeddings: a (rows, d) array, or a list with ``None`` for missing embeddings.
    :param dimensions: the expected length; ``None`` takes it from the first embedding.
    """
    if isinstance(embeddings, np.ndarray) and embeddings.ndim == 2 and embeddings.shape[0] == rows:
        matrix = np.ascontiguousarray(embeddings, dtype=np.float32)
        if dimensions is not None and matrix.shape[1] != dimensions:
            return matrix, [wrong_dimensions(matrix.shape[1], dimensions)] * rows
        problems: list[str | None] = [None] * rows
    else:
        items = list(embeddings) if embeddings is not None else [None] * rows  # type: ignore[call-overload]
        width = dimensions or next((len(item) for item in items if item is not None), 0)
        matrix = np.zeros((rows, width), dtype=np.float32)
        problems = []
        for i, item in enumerate(items):
            if item is None:
                problems.append(NO_EMBEDDING)
            elif len(item) != width:
                problems.append(wrong_dimensions(len(item), width))
            else:
                matrix[i] = item
                problems.append(None)
    for row in np.flatnonzero(~np.isfinite(matrix).all(axis=1)):
        problems[row] = problems[row] or NON_FINITE
    return matrix, problems


def unstorable_reason(record: SourceRecord, dimensions: int | None) -> str | None:
    """Why ``record`` cannot be loaded into PostgreSQL as it is, or ``None`` when it can."""
    try:
        checked_fields(record.id, record.document, record.uri, record.metadata)
    except UnstorableValue as exc:
        return str(exc)
    if record.embedding is None:
        return NO_EMBEDDING
    if dimensions is not None and record.embedding.shape[0] != dimensions:
        return wrong_dimensions(record.embedding.shape[0], dimensions)
    if not np.isfinite(record.embedding).all():
        return NON_FINITE
    return None


def printable_id(record_id: str) -> str:
    """``record_id`` as PostgreSQL text can hold it: escaped as in JSON when it cannot be stored raw."""
    try:
        check_text(record_id, "id")
    except UnstorableValue:
        return json.dumps(record_id)[1:-1]
    return record_id


def quarantine_payload(record: SourceRecord) -> bytes:
    """The original record as UTF-8 JSON (``\\uXXXX`` escapes keep NUL and lone surrogates exact).

    Non-finite embedding values are written as ``NaN``/``Infinity``, which Python's ``json`` reads back.
    """
    embedding = None if record.embedding is None else [float(x) for x in record.embedding]
    document = {"id": record.id, "embedding": embedding, "document": record.document,
                "metadata": _plain(record.metadata), "uri": record.uri}
    return json.dumps(document, ensure_ascii=True).encode("utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
