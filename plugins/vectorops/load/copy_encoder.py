"""PostgreSQL binary COPY encoding for vector tables, in the column order (embedding, id, document, metadata, uri).

Built by hand because it is the hot path. The embedding comes first so that the fixed-size start of every row
(field count, the vector's length, dimension and big-endian float32 values) is built for the whole batch by one
numpy structured array; each variable-length column is encoded by one ``str.encode`` and split, and the rows
are joined once. No Python code runs per field.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import chain

import numpy as np

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_JSONB_VERSION = "\x01"  # encodes to the byte 0x01


def _fields(values: Sequence[str | None], prefix: str = "") -> tuple[list[memoryview], list[bytes]]:
    """A column as COPY fields: the big-endian lengths (-1 for NULL) and the UTF-8 bytes of each value.

    The whole column is encoded by one ``str.encode`` of its values joined by NUL, then split: the values
    hold no NUL (the loader quarantines those records before encoding).

    :param prefix: text put before every non-NULL value (jsonb's version byte).
    """
    texts = [prefix + v if v is not None else "" for v in values] if prefix else [v or "" for v in values]
    parts = "\x00".join(texts).encode("utf-8").split(b"\x00")
    if len(parts) != len(values):
        raise ValueError("a value to encode holds a NUL character")
    lengths = [-1 if v is None else len(b) for v, b in zip(values, parts, strict=True)]
    packed = memoryview(struct.pack(f">{len(lengths)}i", *lengths))
    return [packed[i:i + 4] for i in range(0, 4 * len(lengths), 4)], parts


def _fixed_starts(embeddings: np.ndarray) -> bytes:
    """Per row: field count 5, then the embedding field (length, dims, unused, big-endian float32 values)."""
    rows, dims = embeddings.shape
    layout = np.dtype([("fields", ">i2"), ("length", ">i4"), ("dims", ">i2"), ("unused", ">i2"),
                       ("values", ">f4", (dims,))])
    start = np.empty(rows, dtype=layout)
    start["fields"] = 5
    start["length"] = 4 + 4 * dims
    start["dims"] = dims
    start["unused"] = 0
    start["values"] = embeddings
    return start.tobytes()


def encode_rows(ids: Sequence[str], embeddings: np.ndarray, documents: Sequence[str | None],
                metadata_json: Sequence[str | None], uris: Sequence[str | None]) -> bytes:
    """Encode rows as binary COPY tuples (no header or trailer) for ``load/copy_records.sql``'s column order.

    :param ids: record ids.
    :param embeddings: float32 array of shape (rows, dims).
    :param documents: document per row, or ``None``.
    :param metadata_json: metadata JSON text per row (see :func:`vectorops.metadata_json.metadata_json`), or ``None``.
    :param uris: uri per row, or ``None``.
    :return: the encoded tuples.
    """
    rows, dims = embeddings.shape
    width = 2 + 8 + 4 * dims
    fixed = memoryview(_fixed_starts(np.asarray(embeddings, dtype=np.float32)))
    starts = [fixed[i:i + width] for i in range(0, rows * width, width)]
    columns = [_fields(ids), _fields(documents), _fields(metadata_json, prefix=_JSONB_VERSION), _fields(uris)]
    return b"".join(chain.from_iterable(zip(starts, *(part for column in columns for part in column), strict=True)))
