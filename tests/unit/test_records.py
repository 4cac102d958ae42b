"""Type-exact metadata JSON, unstorable values and quarantine payloads."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorops.errors import UnstorableValue
from vectorops.metadata_json import metadata_json
from vectorops.records import (
    SourceRecord,
    batch_checked_fields,
    checked_fields,
    printable_id,
    quarantine_payload,
    unstorable_reason,
)

SCALARS = st.one_of(st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: math.copysign(1.0, f) > 0 or f),
                    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")))


@given(st.dictionaries(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                               min_size=1), st.one_of(SCALARS, st.lists(SCALARS, min_size=1)), min_size=1))
def test_metadata_json_round_trips_types_exactly(metadata: dict) -> None:
    back = json.loads(metadata_json(metadata))
    assert back == metadata
    for key, value in metadata.items():
        assert type(back[key]) is type(value)


@pytest.mark.parametrize("value", [1e16, 1.5e300, 1e-300, 2.0**70, 0.0, -1e17])
def test_floats_keep_a_decimal_point_so_jsonb_cannot_turn_them_into_ints(value: float) -> None:
    text = metadata_json({"v": value})
    assert "e" not in text.lower() and "." in text
    assert json.loads(text)["v"] == value and isinstance(json.loads(text)["v"], float)


@pytest.mark.parametrize(("metadata", "message"), [
    ({"x": math.nan}, "NaN"), ({"x": math.inf}, "Infinity"), ({"x": "a\x00b"}, "NUL"),
    ({"x": "\ud800"}, "not valid Unicode"), ({"x": -0.0}, "negative zero"), ({"x": [1, math.nan]}, "NaN"),
    ({"x": object()}, "type object"),
])
def test_unstorable_metadata_is_named(metadata: dict, message: str) -> None:
    with pytest.raises(UnstorableValue, match=message):
        metadata_json(metadata)


def test_unstorable_reason_covers_ids_documents_uris_and_vectors() -> None:
    vec = np.ones(3, dtype=np.float32)
    assert unstorable_reason(SourceRecord("ok", vec, "doc", {"a": 1}, "u"), 3) is None
    assert "id contains a NUL" in unstorable_reason(SourceRecord("a\x00", vec, None, None, None), 3)
    assert "document" in unstorable_reason(SourceRecord("a", vec, "\ud800", None, None), 3)
    assert "uri" in unstorable_reason(SourceRecord("a", vec, None, None, "x\x00"), 3)
    assert "non-finite" in unstorable_reason(SourceRecord("a", np.array([1, np.nan, 0], np.float32), None, None,
                                                          None), 3)
    assert "dimensions" in unstorable_reason(SourceRecord("a", vec, None, None, None), 4)


def test_quarantine_payload_keeps_the_original_exactly() -> None:
    record = SourceRecord("id\x00\ud800", np.array([0.1, np.nan], np.float32), "d\x00", {"k": 1.0}, None)
    payload = json.loads(quarantine_payload(record).decode("utf-8"))
    assert payload["id"] == "id\x00\ud800" and payload["document"] == "d\x00"
    assert payload["embedding"][0] == float(np.float32(0.1)) and math.isnan(payload["embedding"][1])
    assert payload["metadata"] == {"k": 1.0} and payload["uri"] is None
    assert printable_id("id\x00") == "id\\u0000" and printable_id("plain") == "plain"


def _typed_json(text: str | None) -> object:
    """JSON with every number tagged int or float: 1 and 1.0 must not compare equal here."""
    if text is None:
        return None
    return json.loads(text, parse_int=lambda s: ("int", int(s)), parse_float=lambda s: ("float", float(s)))


ANY_TEXT = st.text()  # NUL and lone surrogates included: the batch path must hand those to the record path
BATCH_VALUES = st.one_of(SCALARS, st.floats(), ANY_TEXT, st.lists(SCALARS, min_size=1))


@given(st.lists(st.tuples(ANY_TEXT, st.one_of(st.none(), ANY_TEXT), st.one_of(st.none(), ANY_TEXT),
                          st.one_of(st.none(), st.dictionaries(ANY_TEXT, BATCH_VALUES, max_size=4))),
                min_size=1, max_size=8))
def test_batch_checks_agree_with_the_record_by_record_checks(records: list) -> None:
    ids, documents, uris, metadatas = (list(column) for column in zip(*records, strict=True))
    batch = batch_checked_fields(ids, documents, uris, metadatas)
    per_record = []
    for record in records:
        try:
            per_record.append(checked_fields(*record))
        except UnstorableValue:
            per_record.append(UnstorableValue)
    if batch is None:  # some record needs the record-by-record path
        assert UnstorableValue in per_record or any(m is not None and not isinstance(m, dict) for m in metadatas)
    else:
        assert UnstorableValue not in per_record
        assert [_typed_json(b) for b in batch] == [_typed_json(p) for p in per_record]
        assert all(b is None or "\x00" not in b for b in batch)
