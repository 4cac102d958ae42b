"""The gate's top-10 score against Chroma: Chroma's own misses are told apart from the table's."""

from __future__ import annotations

import numpy as np

from vectorops.quality.sampling import chroma_distance, score_against_chroma

VECTORS = {f"r{i}": np.array([float(i), 0.0], dtype=np.float32) for i in range(20)}
QUERY = np.array([[0.0, 0.0]], dtype=np.float32)
TRUE_TOP10 = [f"r{i}" for i in range(10)]


def _answer(ids: list[str]) -> list[list[tuple[str, float]]]:
    return [[(i, float(chroma_distance("l2", QUERY[0], VECTORS[i])[0])) for i in ids]]


def test_a_neighbour_chroma_missed_is_its_own_approximation() -> None:
    # Chroma's HNSW returned r12 instead of r9: farther than the table's 10th, distances agree
    score = score_against_chroma("l2", QUERY, _answer([*TRUE_TOP10[:9], "r12"]), [TRUE_TOP10], VECTORS)
    assert (score.overlap, score.farther, score.unexplained, score.mismatches) == (0.9, 1, 0, [])


def test_a_nearer_neighbour_the_table_lacks_is_unexplained() -> None:
    lacking = {k: v for k, v in VECTORS.items() if k != "r3"}
    table_top10 = [f"r{i}" for i in range(11) if i != 3]
    score = score_against_chroma("l2", QUERY, _answer(TRUE_TOP10), [table_top10], lacking)
    assert score.unexplained == 1 and score.overlap == 0.9


def test_a_distance_chroma_reported_otherwise_is_a_mismatch() -> None:
    answer = [[(i, d * 4.0) for i, d in _answer(TRUE_TOP10)[0]]]  # another space's distances
    score = score_against_chroma("l2", QUERY, answer, [TRUE_TOP10], VECTORS)
    assert score.overlap == 1.0 and len(score.mismatches) == 9  # r0's distance is 0 in both
