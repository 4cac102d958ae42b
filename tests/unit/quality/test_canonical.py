"""The canonical row bytes parity hashes: the same record gives the same bytes, a different one other bytes."""

from __future__ import annotations

import struct

from vectorops.quality.canonical import REEMBEDDED, Row, canonical_metadata, row_bytes


def _vector(*values: float) -> bytes:
    return struct.pack(f">{len(values)}f", *values)


def test_metadata_key_order_does_not_matter() -> None:
    assert canonical_metadata({"b": 1, "a": {"y": 2, "x": 3}}) == canonical_metadata({"a": {"x": 3, "y": 2}, "b": 1})
    assert canonical_metadata({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_metadata_types_survive() -> None:
    forms = {canonical_metadata({"k": v}) for v in (1, 1.0, True, "1", None)}
    assert len(forms) == 5
    assert canonical_metadata({"k": 0.1}) == '{"k":0.1}'
    assert canonical_metadata({"k": 1e20}) == '{"k":1e+20}'


def test_metadata_keeps_unicode_as_is_and_none_is_none() -> None:
    assert canonical_metadata({"名": "ü🦀"}) == '{"名":"ü🦀"}'
    assert canonical_metadata(None) is None
    assert canonical_metadata({}) == "{}"


def test_row_bytes_are_length_prefixed_fields() -> None:
    row = Row("id", _vector(1.0), "doc", '{"a":1}', None)
    expected = (struct.pack(">Q", 2) + b"id" + struct.pack(">Q", 4) + _vector(1.0) + struct.pack(">Q", 3) + b"doc"
                + struct.pack(">Q", 7) + b'{"a":1}' + b"\xff")
    assert row_bytes(row) == expected


def test_fields_cannot_run_together() -> None:
    assert row_bytes(Row("ab", b"", "c", None, None)) != row_bytes(Row("a", b"", "bc", None, None))
    assert row_bytes(Row("a", b"", "", None, None)) != row_bytes(Row("a", b"", None, None, None))


def test_every_field_changes_the_bytes() -> None:
    base = Row("a", _vector(1.0, 2.0), "doc", "{}", "u")
    variants = [Row("b", base.vector, "doc", "{}", "u"), Row("a", _vector(1.0, 2.5), "doc", "{}", "u"),
                Row("a", REEMBEDDED, "doc", "{}", "u"), Row("a", base.vector, "Doc", "{}", "u"),
                Row("a", base.vector, "doc", None, "u"), Row("a", base.vector, "doc", "{}", None)]
    assert len({row_bytes(r) for r in [base, *variants]}) == 1 + len(variants)
    assert row_bytes(base) == row_bytes(Row("a", _vector(1.0, 2.0), "doc", "{}", "u"))


def test_negative_zero_is_a_different_vector() -> None:
    assert row_bytes(Row("a", _vector(0.0), None, None, None)) != row_bytes(Row("a", _vector(-0.0), None, None, None))
