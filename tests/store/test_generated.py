"""Hypothesis: generated filters over edge-case data, and generated metadata with generated filters, give the same
ids on Chroma and pgvector (get, and query top-k). Examples are bounded so the suite stays fast."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.store.dataset import LISTS, SCALARS, operands, records

KEYS = ("v", "w", "l", "missing")


def bounded(examples: int) -> settings:
    """Deterministic, bounded Hypothesis settings (no example database written)."""
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(st.sampled_from(operands()), st.integers(-4, 4), st.sampled_from([0.5, -2.0, 3.0, 1e-3]),
                    st.text(alphabet="ab1", max_size=2), st.booleans())
numbers = st.one_of(st.integers(-4, 4), st.sampled_from([x for x in operands()
                                                         if isinstance(x, int | float) and not isinstance(x, bool)]))


def _same_type(values: list[Any]) -> bool:
    return len({type(v) for v in values}) == 1


leaf = st.one_of(
    st.builds(lambda k, x: {k: x}, st.sampled_from(KEYS), scalars),
    st.builds(lambda k, op, x: {k: {op: x}}, st.sampled_from(KEYS), st.sampled_from(["$eq", "$ne"]), scalars),
    st.builds(lambda k, op, x: {k: {op: x}}, st.sampled_from(KEYS), st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
              numbers),
    st.builds(lambda k, op, xs: {k: {op: xs}}, st.sampled_from(KEYS), st.sampled_from(["$in", "$nin"]),
              st.lists(scalars, min_size=1, max_size=3).filter(_same_type)),
    st.builds(lambda k, op, x: {k: {op: x}}, st.sampled_from(KEYS), st.sampled_from(["$contains", "$not_contains"]),
              scalars),
)
wheres = st.recursive(leaf, lambda children: st.builds(
    lambda op, items: {op: items}, st.sampled_from(["$and", "$or"]), st.lists(children, min_size=2, max_size=3)),
    max_leaves=5)
documents_filter = st.one_of(
    st.none(),
    st.builds(lambda op, s: {op: s}, st.sampled_from(["$contains", "$not_contains"]),
              st.sampled_from(["o", "He", "é", "a_", "%", " ", "\n"])),
    st.builds(lambda op, s: {op: s}, st.sampled_from(["$regex", "$not_regex"]),
              st.sampled_from(["^[a-z]", "(?i)world", r"\d", r"\bcat", "e$", "[^ -~]", "(?s)t.O", "x|%"])))


@pytest.fixture(scope="module")
def pair(stores: dict[str, Any]) -> dict[str, Any]:
    data = records(90, 6, seed=5)
    name = f"generated-{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {}
    for backend, store in stores.items():
        col = store.get_or_create_collection(name)
        col.add(ids=data.ids, embeddings=data.embeddings, metadatas=data.metadatas, documents=data.documents)
        out[backend] = col
    return out


@bounded(200)
@given(where=wheres, where_document=documents_filter)
def test_generated_filters(pair: dict[str, Any], where: dict[str, Any], where_document: Any) -> None:
    got = {b: set(pair[b].get(where=where, where_document=where_document, include=[])["ids"]) for b in pair}
    assert got["chroma"] == got["postgres"], (where, where_document)


@bounded(40)
@given(where=wheres)
def test_generated_filtered_queries(pair: dict[str, Any], where: dict[str, Any]) -> None:
    query = np.linspace(-1, 1, 6, dtype=np.float32)
    got = {b: pair[b].query(query_embeddings=query, n_results=5, where=where, include=[])["ids"] for b in pair}
    assert got["chroma"] == got["postgres"], where


values = st.one_of(st.sampled_from(SCALARS), st.integers(-3, 3), st.floats(-3, 3, width=32).filter(lambda x: x != 0),
                   st.booleans(), st.text(alphabet="ab", max_size=2), st.sampled_from(LISTS))
metadatas = st.one_of(st.none(), st.dictionaries(st.sampled_from(["v", "w", "l"]), values, min_size=1, max_size=3))


@pytest.fixture(scope="module")
def scratch(stores: dict[str, Any]) -> dict[str, Any]:
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    return {b: s.get_or_create_collection(name) for b, s in stores.items()}


@bounded(60)
@given(metas=st.lists(metadatas, min_size=1, max_size=8), where=wheres)
def test_generated_metadata(scratch: dict[str, Any], metas: list[dict[str, Any] | None], where: dict[str, Any]) -> None:
    ids = [f"g{i}" for i in range(len(metas))]
    vectors = np.arange(len(metas) * 3, dtype=np.float32).reshape(-1, 3)
    for col in scratch.values():
        existing = col.get(include=[])["ids"]
        if existing:
            col.delete(ids=existing)
        col.add(ids=ids, embeddings=vectors, metadatas=metas)
    got = {b: set(scratch[b].get(where=where, include=[])["ids"]) for b in scratch}
    assert got["chroma"] == got["postgres"], (metas, where)
    stored = {b: scratch[b].get(include=["metadatas"]) for b in scratch}
    by_id = {b: dict(zip(stored[b]["ids"], stored[b]["metadatas"], strict=True)) for b in stored}
    assert by_id["postgres"] == dict(zip(ids, metas, strict=True))  # exactly as written, types included
    assert {i: _close(m) for i, m in by_id["chroma"].items()} == {i: _close(m) for i, m in by_id["postgres"].items()}


def _close(meta: dict[str, Any] | None) -> Any:
    """Metadata with floats to 15 digits: Chroma 1.5.9 can read a float back one ulp off
    (0.41471150517463684 comes back as 0.4147115051746368, though its filters see the stored value)."""
    if meta is None:
        return None
    def fix(v: Any) -> Any:
        if isinstance(v, list):
            return [fix(x) for x in v]
        return (type(v), float(f"{v:.15g}")) if isinstance(v, float) else (type(v), v)
    return {k: fix(v) for k, v in meta.items()}
