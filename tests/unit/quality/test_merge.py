"""The tallies of a parity merge: missing, extra, each differing field, vectors lost, re-embedded samples."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

from vectorops.embedding.policy import COLLECTION, COPY, RECORDS, EmbeddingPlan
from vectorops.quality import merge as m
from vectorops.quality.canonical import REEMBEDDED, Row, row_bytes
from vectorops.quality.exact_search import ExactTopK


def _plan(mode: str) -> EmbeddingPlan:
    return EmbeddingPlan(mode=mode, source_dimensions=2, dimensions=2, model=None, table_model=None,
                         normalizes=False, reason="unit")


def _vector(*values: float) -> bytes:
    return struct.pack(f">{len(values)}f", *values)


ROW = Row("a", _vector(1.0, 2.0), "doc", '{"k":1}', "u")


def test_a_tally_counts_everything_and_keeps_the_first_ids() -> None:
    tally = m.Tally()
    for n in range(m.SAMPLES + 3):
        tally.add(f"id{n}")
    assert tally.count == m.SAMPLES + 3
    assert tally.samples == [f"id{n}" for n in range(m.SAMPLES)]


def test_identical_rows_hash_alike_and_count_nothing() -> None:
    merge = m.Merge()
    m.compare(merge, ROW, ROW, False, _plan(COPY))
    assert merge.compared == 1
    assert merge.source.digest() == merge.table.digest() == hashlib.sha256(row_bytes(ROW)).digest()
    assert all(t.count == 0 for t in merge.differing.values())
    assert (merge.no_vector.count, merge.metadata_lost, merge.reembedded_seen) == (0, 0, 0)


def test_each_differing_field_is_counted_on_its_own() -> None:
    merge = m.Merge()
    m.compare(merge, ROW, Row("a", _vector(1.0, 2.5), "doc", '{"k":1}', "u"), False, _plan(COPY))
    m.compare(merge, ROW._replace(id="b"), Row("b", ROW.vector, "other", None, None), False,
              _plan(COPY))
    assert {f: (t.count, t.samples) for f, t in merge.differing.items()} == {
        "embedding": (1, ["a"]), "document": (1, ["b"]), "metadata": (1, ["b"]), "uri": (1, ["b"])}
    assert merge.metadata_lost == 1
    assert merge.source.digest() != merge.table.digest()


def test_a_reembedded_row_without_a_vector_is_counted_as_no_vector() -> None:
    merge = m.Merge()
    m.compare(merge, ROW, Row("a", b"", "doc", '{"k":1}', "u"), True, _plan(COLLECTION))
    assert merge.no_vector.samples == ["a"]
    assert merge.reembedded_seen == 0
    assert merge.differing["embedding"].count == 0


def test_a_reembedded_row_hashes_as_reembedded_and_is_sampled() -> None:
    merge = m.Merge()
    stored = Row("a", _vector(9.0, 9.0), "doc", '{"k":1}', "u")
    m.compare(merge, Row("a", REEMBEDDED, "doc", '{"k":1}', "u"), stored, True, _plan(COLLECTION))
    assert merge.source.digest() == merge.table.digest()
    assert merge.differing["embedding"].count == 0
    assert merge.reembedded_seen == 1
    assert merge.model_sample == [("a", "doc", stored.vector)]
    assert merge.reembedded_ids == []  # kept only in records mode


def test_records_mode_keeps_the_reembedded_ids() -> None:
    merge = m.Merge()
    m.compare(merge, ROW, Row("a", _vector(3.0, 4.0), "doc", '{"k":1}', "u"), True, _plan(RECORDS))
    assert merge.reembedded_ids == ["a"]


def test_the_model_sample_is_a_bounded_seeded_reservoir() -> None:
    def run() -> list[str]:
        merge = m.Merge()
        for n in range(m.MODEL_CHECKS + 500):
            rid = f"r{n:05d}"
            m.compare(merge, Row(rid, REEMBEDDED, "d", None, None), Row(rid, _vector(1.0, 0.0), "d", None, None),
                      True, _plan(COLLECTION))
        assert merge.reembedded_seen == m.MODEL_CHECKS + 500
        return [rid for rid, _, _ in merge.model_sample]

    first = run()
    assert len(first) == m.MODEL_CHECKS
    assert first == run()
    assert any(int(rid[1:]) >= m.MODEL_CHECKS for rid in first)


def test_an_extra_row_goes_into_the_table_hash_and_the_baseline() -> None:
    merge, baseline = m.Merge(), hashlib.sha256()
    m.take_extra(merge, baseline, ROW)
    assert merge.extra.samples == ["a"]
    assert baseline.digest() == merge.table.digest() == hashlib.sha256(row_bytes(ROW)).digest()
    assert merge.source.digest() == hashlib.sha256().digest()


def test_candidates_reach_the_top_k_in_batches_and_skip_new_or_missing_vectors() -> None:
    top_k = ExactTopK(np.array([[1.0, 0.0]]), "l2", k=2)
    candidates = m.Candidates(top_k, size=2)
    candidates.offer(Row("far", _vector(5.0, 0.0), None, None, None), False)
    candidates.offer(Row("new", _vector(1.0, 0.0), None, None, None), True)
    candidates.offer(Row("none", b"", None, None, None), False)
    assert top_k.result() == [[]]
    candidates.offer(Row("near", _vector(1.0, 0.1), None, None, None), False)  # the second: a flush
    assert top_k.result() == [["near", "far"]] and candidates.ids == []
    candidates.offer(Row("exact", _vector(1.0, 0.0), None, None, None), False)
    candidates.flush()
    assert top_k.result() == [["exact", "near"]]
    m.Candidates(None).offer(ROW, False)  # no top-k: nothing is buffered


def test_nearest_outside_drops_excluded_ids_and_declines_what_the_kept_list_cannot_tell() -> None:
    top_k = ExactTopK(np.array([[0.0, 0.0]]), "l2", k=3)
    top_k.add(["a", "b", "c", "d", "e"], np.array([[1.0, 0], [2, 0], [3, 0], [4, 0], [5, 0]]))
    assert top_k.nearest_outside(set(), 2) == [["a", "b"]]
    assert top_k.nearest_outside({"a"}, 2) == [["b", "c"]]
    # "d" may be second once "a" and "b" are gone, but the top 3 no longer holds it: pgvector must answer
    assert top_k.nearest_outside({"a", "b"}, 2) == [None]
    few = ExactTopK(np.array([[0.0, 0.0]]), "l2", k=3)
    few.add(["a", "b"], np.array([[1.0, 0], [2, 0]]))
    assert few.nearest_outside({"a"}, 2) == [["b"]]  # every candidate was kept: the short answer is complete
    with pytest.raises(ValueError, match="4 neighbours wanted from a top 3"):
        top_k.nearest_outside(set(), 4)


def test_an_undefined_distance_sorts_last_and_keeps_the_batch() -> None:
    top_k = ExactTopK(np.array([[1.0, 0.0]]), "cosine", k=2)
    top_k.add(["zero", "near", "far"], np.array([[0.0, 0.0], [1.0, 0.1], [0.0, 1.0]]))  # zero: NaN under cosine
    assert top_k.result() == [["near", "far"]]
    few = ExactTopK(np.array([[1.0, 0.0]]), "cosine", k=3)
    few.add(["zero", "near"], np.array([[0.0, 0.0], [1.0, 0.1]]))
    assert few.result() == [["near", "zero"]]  # as PostgreSQL orders NaN: after every number
