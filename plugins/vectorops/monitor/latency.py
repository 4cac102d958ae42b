"""Latency percentiles over the client-side timings of the probe queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    """p50, p95 and p99 in milliseconds over ``samples`` timed queries."""

    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    samples: int


def percentiles(timings_ms: Sequence[float]) -> Latency:
    """p50, p95 and p99 of ``timings_ms`` (linear interpolation between the closest ranks).

    :param timings_ms: one time per query, in milliseconds.
    :return: all ``None`` when there are no timings.
    """
    if not timings_ms:
        return Latency(None, None, None, 0)
    p50, p95, p99 = (round(float(v), 3) for v in np.percentile(np.asarray(timings_ms, dtype=np.float64),
                                                                  [50, 95, 99]))
    return Latency(p50, p95, p99, len(timings_ms))
