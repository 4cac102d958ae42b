"""Scoring edges the end-to-end comparison (tests/store/test_compare.py) does not reach."""

from __future__ import annotations

import pytest

from vectorops.compare.measure import Measurement
from vectorops.compare.scoring import GRADES, WEIGHTS, grade, score


def test_the_weights_make_one_hundred() -> None:
    assert sum(WEIGHTS.values()) == 100


@pytest.mark.parametrize(("total", "letter"), [(100, "A+"), (97, "A+"), (96.9, "A"), (90, "A-"), (87, "B+"),
                                               (80, "B-"), (70, "C-"), (63, "D"), (60, "D-"), (59.9, "F"), (0, "F")])
def test_grade_bounds(total: float, letter: str) -> None:
    assert grade(total) == letter


def test_grades_descend() -> None:
    bounds = [bound for bound, _ in GRADES]
    assert bounds == sorted(bounds, reverse=True)


def test_a_backend_alone_gets_full_speed_points() -> None:
    only = Measurement("postgres", connect_ms=3, write_rps=10, read_rps=10, filtered_qps=1, p95_ms=9,
                       recall_at_10=0.99, load_ops=10, load_errors=0)
    (result,) = score([only])
    assert result.points == WEIGHTS and result.total == 100 and result.grade == "A+"


def test_nothing_measured_scores_nothing_without_dividing_by_zero() -> None:
    empty = Measurement("chroma")  # every figure 0, no load operations: error rate 1
    (result,) = score([empty])
    assert result.points == {"connection": 0.0, "write": 0.0, "read": 0.0, "query": 0.0, "reliability": 0.0}
    assert (result.total, result.grade) == (0.0, "F")


def test_recall_above_the_target_is_capped_and_errors_are_capped() -> None:
    a = Measurement("a", connect_ms=1, write_rps=1, read_rps=1, filtered_qps=1, p95_ms=1, recall_at_10=1.0,
                    load_ops=10, load_errors=20)
    b = Measurement("b", connect_ms=1, write_rps=1, read_rps=1, filtered_qps=1, p95_ms=1, recall_at_10=0.495,
                    load_ops=10, load_errors=5)
    first, second = score([a, b])
    assert first.points["query"] == 20 and first.points["reliability"] == 0
    assert second.points["query"] == 17 and second.points["reliability"] == 5
