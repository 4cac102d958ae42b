"""PostgreSQL binary COPY encoding for vector tables (id, embedding, document, metadata, uri).

Built by hand because it is the hot path: the float32 arrays are byte-swapped once per batch by
numpy, and each row is a join of ready-made byte strings.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_FIVE_FIELDS = struct.pack(">h", 5)
_JSONB_VERSION = b"\x01"
_len = struct.Struct(">i").pack


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode("utf-8")
    return _len(len(data)) + data


def encode_rows(ids: Sequence[str], embeddings: np.ndarray, documents: Sequence[str | None],
                metadata_json: Sequence[str | None], uris: Sequence[str | None]) -> bytes:
    """Encode rows as binary COPY tuples (no header or trailer).

    :param ids: record ids.
    :param embeddings: float32 array of shape (rows, dims).
    :param documents: document per row, or ``None``.
    :param metadata_json: metadata JSON text per row (see :func:`vectorops.records.metadata_json`), or ``None``.
    :param uris: uri per row, or ``None``.
    :return: the encoded tuples.
    """
    rows, dims = embeddings.shape
    big_endian = np.ascontiguousarray(embeddings, dtype=">f4")
    vector_prefix = struct.pack(">ihh", 4 + 4 * dims, dims, 0)
    raw = big_endian.tobytes()
    width = 4 * dims
    parts: list[bytes] = []
    append = parts.append
    for i in range(rows):
        append(_FIVE_FIELDS)
        append(_text(ids[i]))
        append(vector_prefix)
        append(raw[i * width:(i + 1) * width])
        append(_text(documents[i]))
        meta = metadata_json[i]
        if meta is None:
            append(_NULL)
        else:
            data = meta.encode("utf-8")
            append(_len(len(data) + 1) + _JSONB_VERSION + data)
        append(_text(uris[i]))
    return b"".join(parts)
