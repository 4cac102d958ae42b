"""The comparison's score: connection 20, write 25, read 25, query 20, reliability 10 points; graded A+ to F.

Speed is scored against the faster backend of the run (the faster one gets the full points, the other its share):
connection by median time, write and read by records per second. Query: 8 points for p95 latency (relative),
6 for filtered queries per second (relative), 6 for recall@10 (``min(1, recall / 0.99)``). Reliability:
``10 × (1 − error rate)`` under the concurrent load.
"""

from __future__ import annotations

from dataclasses import dataclass

from vectorops.compare.measure import Measurement

WEIGHTS = {"connection": 20, "write": 25, "read": 25, "query": 20, "reliability": 10}
RECALL_TARGET = 0.99
GRADES = ((97, "A+"), (93, "A"), (90, "A-"), (87, "B+"), (83, "B"), (80, "B-"), (77, "C+"), (73, "C"), (70, "C-"),
          (67, "D+"), (63, "D"), (60, "D-"))


@dataclass(frozen=True)
class Score:
    """Points per category (out of :data:`WEIGHTS`), their total out of 100, and the grade."""

    backend: str
    points: dict[str, float]
    total: float
    grade: str


def grade(total: float) -> str:
    """A+ (97 and above) down to F (below 60)."""
    return next((letter for bound, letter in GRADES if total >= bound), "F")


def _share(value: float, best: float) -> float:
    return min(1.0, value / best) if best > 0 else 0.0


def score(results: list[Measurement]) -> list[Score]:
    """Score each backend of one run."""
    fastest_connect = min(r.connect_ms for r in results)
    best_write = max(r.write_rps for r in results)
    best_read = max(r.read_rps for r in results)
    best_p95 = min(r.p95_ms for r in results)
    best_filtered = max(r.filtered_qps for r in results)
    scores = []
    for r in results:
        points = {
            "connection": WEIGHTS["connection"] * _share(fastest_connect, r.connect_ms),
            "write": WEIGHTS["write"] * _share(r.write_rps, best_write),
            "read": WEIGHTS["read"] * _share(r.read_rps, best_read),
            "query": 8 * _share(best_p95, r.p95_ms) + 6 * _share(r.filtered_qps, best_filtered)
            + 6 * min(1.0, r.recall_at_10 / RECALL_TARGET),
            "reliability": WEIGHTS["reliability"] * (1.0 - min(1.0, r.error_rate)),
        }
        points = {k: round(v, 1) for k, v in points.items()}
        total = round(sum(points.values()), 1)
        scores.append(Score(r.backend, points, total, grade(total)))
    return scores
