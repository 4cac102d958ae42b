"""The canonical form of a record that parity hashes on both sides: the table's row and the source's record."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any, NamedTuple

#: what both sides hash for a re-embedded vector (it cannot match the source's)
REEMBEDDED = b"\x00re-embedded"


class Row(NamedTuple):
    """One record in the canonical form both sides are hashed in (a tuple: a parity pass makes two a record)."""

    id: str
    vector: bytes  # big-endian float32, or REEMBEDDED
    document: str | None
    metadata: str | None  # canonical JSON
    uri: str | None


def canonical_metadata(metadata: Mapping[str, Any] | None) -> str | None:
    """Metadata as canonical JSON (sorted keys); types survive, so ``1``, ``1.0`` and ``true`` differ.

    :param metadata: a record's metadata, or ``None``.
    """
    if metadata is None:
        return None
    return _CANONICAL.encode(metadata)


# one encoder for every row: ``json.dumps`` with these options builds a new one per call
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_LENGTH = struct.Struct(">Q").pack
_NULL = b"\xff"  # a byte no length prefix starts with


def row_bytes(row: Row) -> bytes:
    """The bytes of ``row`` that go into a checksum: each field length-prefixed (so fields cannot run together),
    NULL as a byte no length prefix starts with.

    :param row: the record in canonical form.
    """
    parts: list[bytes] = []
    for value in row:  # the fields in order; inline, since a parity pass runs this twice a record
        if value is None:
            parts.append(_NULL)
        else:
            raw = value.encode("utf-8") if isinstance(value, str) else value
            parts.append(_LENGTH(len(raw)))
            parts.append(raw)
    return b"".join(parts)
