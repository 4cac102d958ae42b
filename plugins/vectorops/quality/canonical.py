"""The canonical form of a record that parity hashes on both sides: the table's row and the source's record."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: what both sides hash for a re-embedded vector (it cannot match the source's)
REEMBEDDED = b"\x00re-embedded"


@dataclass(frozen=True)
class Row:
    """One record in the canonical form both sides are hashed in."""

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


def _field(value: str | bytes | None) -> bytes:
    """A field as length-prefixed bytes; NULL is a byte no length prefix starts with."""
    if value is None:
        return b"\xff"
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return _LENGTH(len(raw)) + raw


_LENGTH = struct.Struct(">Q").pack


def row_bytes(row: Row) -> bytes:
    """The bytes of ``row`` that go into a checksum (length-prefixed, so fields cannot run together).

    :param row: the record in canonical form.
    """
    return b"".join((_field(row.id), _field(row.vector), _field(row.document), _field(row.metadata),
                     _field(row.uri)))
