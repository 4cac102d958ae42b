"""Throughput at a fixed recall: N client threads, each with its own client, querying one engine at once.

For each engine the search effort is calibrated first, on one client: the smallest rung of the ef_search ladder
(:data:`vectorops.monitor.ef_advice.EF_LADDER`) whose recall@10 over the query set, against the exact top-10 of
:class:`~vectorops.compare.dataset.Dataset`, reaches :data:`MIN_RECALL`; when none does, the best rung, said so.
Then, at that setting, each client count runs for a bounded time (or a bounded number of passes over the query
set, whichever ends first): every client starts at its own offset in the query set, all start together, and
each query is timed on its client. QPS is the answered queries over the wall time of the whole load; latency
percentiles are over every query of every client; recall@10 is over every answer given under load. The clients
are threads of this process: its CPU time over the load's wall time (``client_cpu_pct``, 100 = one core) tells
when the client side, not the engine, is what limits the throughput.

Engines are alternated between runs (the first engine of an even run goes last in the next one), and every
figure reported is the median over the runs.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from vectorops.compare.dataset import Dataset, recall_at_10
from vectorops.monitor.ef_advice import EF_LADDER, advise_ef_search

MIN_RECALL = 0.95
DEFAULT_CLIENTS = (1, 4, 16)
ERROR_SAMPLES = 3


class Searcher(Protocol):
    """One client of an engine: its own connection(s)."""

    def search(self, vector: np.ndarray) -> list[str]:
        """The ids of the 10 nearest records."""

    def close(self) -> None:
        """Release the client's connections."""


class Engine(Protocol):
    """A search engine under test, at a search effort that :meth:`set_effort` changes."""

    name: str
    setting: str

    def set_effort(self, value: int) -> None:
        """Search at ``value`` (an ef_search) from the next :meth:`open` on."""

    def open(self) -> Searcher:
        """A new client."""


@dataclass(frozen=True)
class Calibration:
    """The effort an engine is measured at.

    :param value: the smallest rung reaching ``target``, else the best rung.
    :param ladder: recall@10 per rung tried.
    """

    engine: str
    setting: str
    value: int
    recall_at_10: float
    target: float
    reached: bool
    ladder: dict[int, float] = field(default_factory=dict)

    def describe(self) -> str:
        """One line: the setting, and whether the target was reached."""
        if self.reached:
            return f"{self.engine}: {self.setting} {self.value} (recall@10 {self.recall_at_10:.3f})"
        return (f"{self.engine}: no {self.setting} up to {max(self.ladder)} reaches recall@10 {self.target}; "
                f"measured at the best, {self.value} (recall@10 {self.recall_at_10:.3f})")


@dataclass(frozen=True)
class LoadResult:
    """One engine at one client count in one run (latencies in milliseconds)."""

    engine: str
    clients: int
    run: int
    setting_value: int
    queries: int
    errors: int
    seconds: float
    qps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    recall_at_10: float
    client_cpu_pct: float = 0.0
    error_samples: list[str] = field(default_factory=list)


def calibrate(engine: Engine, data: Dataset, target: float = MIN_RECALL,
              ladder: tuple[int, ...] = EF_LADDER) -> Calibration:
    """Walk ``ladder`` upwards on one client until recall@10 over ``data.queries`` reaches ``target``; the engine
    is left at the chosen rung."""
    def recall_at(value: int) -> float:
        engine.set_effort(value)
        searcher = engine.open()
        try:
            return recall_at_10([searcher.search(q) for q in data.queries], data.truth)
        finally:
            searcher.close()

    advice = advise_ef_search(recall_at, target, ladder=ladder)
    engine.set_effort(advice.ef_search)
    return Calibration(engine.name, engine.setting, advice.ef_search, round(advice.recall, 4), target,
                       advice.reached, {k: round(v, 4) for k, v in advice.ladder.items()})


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 3) if values else 0.0


def run_load(engine: Engine, data: Dataset, clients: int, seconds: float, passes: int, value: int,
             run: int = 0) -> LoadResult:
    """``clients`` threads, each with its own client, querying for ``seconds`` or ``passes`` passes over the
    query set, whichever ends first. Clients are opened (and answer one query) before the clock starts."""
    searchers: list[Searcher] = []
    n = len(data.queries)
    timings: list[list[float]] = [[] for _ in range(clients)]
    answers: list[list[tuple[int, list[str]]]] = [[] for _ in range(clients)]
    failures = [0] * clients
    samples: list[str] = []
    gate = threading.Barrier(clients + 1)
    clock: dict[str, float] = {}

    def client(c: int) -> None:
        searcher, first = searchers[c], c * n // clients
        gate.wait()
        stop_at = clock["stop_at"]
        for i in range(passes * n):
            if time.perf_counter() >= stop_at:
                break
            q = (first + i) % n
            started = time.perf_counter()
            try:
                ids = searcher.search(data.queries[q])
            except Exception as exc:  # counted and sampled: an engine that fails under load says so in the report
                failures[c] += 1
                if len(samples) < ERROR_SAMPLES:
                    samples.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            timings[c].append((time.perf_counter() - started) * 1000)
            answers[c].append((q, ids))

    try:
        for c in range(clients):
            searchers.append(engine.open())
            searchers[c].search(data.queries[c * n // clients])
        threads = [threading.Thread(target=client, args=(c,), name=f"concurrency-{engine.name}-{c}", daemon=True)
                   for c in range(clients)]
        for thread in threads:
            thread.start()
        clock["stop_at"] = time.perf_counter() + seconds
        started, cpu = time.perf_counter(), time.process_time()
        gate.wait()
        for thread in threads:
            thread.join(seconds + 300)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        for searcher in searchers:
            searcher.close()
    latencies = [t for per_client in timings for t in per_client]
    answered = [a for per_client in answers for a in per_client]
    recall = recall_at_10([ids for _, ids in answered], [data.truth[q] for q, _ in answered])
    return LoadResult(engine.name, clients, run, value, len(answered), sum(failures), round(elapsed, 3),
                      round(len(answered) / elapsed, 1) if elapsed else 0.0, _percentile(latencies, 50),
                      _percentile(latencies, 95), _percentile(latencies, 99), round(recall, 4),
                      round(100 * cpu / elapsed, 1) if elapsed else 0.0, samples)


@dataclass
class Concurrency:
    """Every load of every run, the calibrations, and the medians and ratios made of them.

    :param ratio_of: ``(numerator, denominator)`` engine names of the ratios.
    """

    calibrations: list[Calibration]
    loads: list[LoadResult]
    clients: tuple[int, ...]
    runs: int
    seconds: float
    ratio_of: tuple[str, str]
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def medians(self) -> list[dict[str, Any]]:
        """Per engine and client count: the median QPS, p50/p95/p99 and recall@10 over the runs."""
        rows = []
        for engine in dict.fromkeys(load.engine for load in self.loads):
            for clients in self.clients:
                loads = [x for x in self.loads if x.engine == engine and x.clients == clients]
                if loads:
                    rows.append({"engine": engine, "clients": clients, "setting_value": loads[0].setting_value,
                                 "runs": len(loads), "errors": sum(x.errors for x in loads),
                                 **{key: round(statistics.median(getattr(x, key) for x in loads), 4)
                                    for key in ("qps", "p50_ms", "p95_ms", "p99_ms", "recall_at_10",
                                                "client_cpu_pct")}})
        return rows

    def ratios(self) -> list[dict[str, Any]]:
        """Per client count: numerator ÷ denominator of the median QPS and the median p95."""
        top, bottom = self.ratio_of
        by = {(row["engine"], row["clients"]): row for row in self.medians()}
        out = []
        for clients in self.clients:
            a, b = by.get((top, clients)), by.get((bottom, clients))
            if a and b:
                out.append({"clients": clients, "qps_ratio": _ratio(a["qps"], b["qps"]),
                            "p95_ratio": _ratio(a["p95_ms"], b["p95_ms"])})
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: settings, every load, the medians and the ratios."""
        return {"clients": list(self.clients), "runs": self.runs, "seconds": self.seconds,
                "target_recall": MIN_RECALL, "ratio": f"{self.ratio_of[0]} / {self.ratio_of[1]}",
                "calibrations": [{**asdict(c), "ladder": {str(k): v for k, v in c.ladder.items()}}
                                 for c in self.calibrations],
                "loads": [asdict(load) for load in self.loads], "medians": self.medians(),
                "ratios": self.ratios(), "notes": self.notes, "elapsed_s": round(self.elapsed_s, 1)}


def _ratio(a: float, b: float) -> float | None:
    # Significant figures, not decimals: a ratio far below 1 must keep its precision.
    return float(f"{a / b:.4g}") if b else None


def measure_concurrency(engines: Sequence[Engine], data: Dataset, clients: Sequence[int] = DEFAULT_CLIENTS,
                        seconds: float = 10.0, passes: int = 1000, runs: int = 1) -> Concurrency:
    """Calibrate each engine, then run every client count on each, ``runs`` times, alternating the engines.

    :param engines: the ratio is the first engine's ÷ the second's.
    :param passes: the most passes over the query set each client makes in one load.
    """
    started = time.perf_counter()
    calibrations = [calibrate(engine, data) for engine in engines]
    loads: list[LoadResult] = []
    for run in range(runs):
        order = list(zip(engines, calibrations, strict=True))
        for engine, calibration in order if run % 2 == 0 else reversed(order):
            engine.set_effort(calibration.value)
            loads += [run_load(engine, data, n, seconds, passes, calibration.value, run) for n in clients]
    notes = [c.describe() for c in calibrations if not c.reached]
    return Concurrency(calibrations, loads, tuple(clients), runs, seconds, (engines[0].name, engines[1].name),
                       notes, time.perf_counter() - started)
