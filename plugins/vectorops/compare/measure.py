"""What ``vectorops compare`` measures on one backend, through the store API (the code path services use).

Every phase is bounded: a fixed number of records, reads and queries, and the concurrent load stops after
``seconds``. Everything runs locally (an embedded Chroma directory; the configured PostgreSQL).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vectorops.compare.dataset import RECALL_K, Dataset, recall_at_10

CONNECT_TRIALS = 5
READ_BATCH = 100


@dataclass(frozen=True)
class Options:
    """How much work each phase does.

    :param batch: records per write call.
    :param reads: ``get`` calls of ``READ_BATCH`` ids each.
    :param clients: concurrent clients of the reliability phase.
    :param seconds: how long the reliability phase runs.
    """

    batch: int = 500
    reads: int = 50
    clients: int = 4
    seconds: float = 10.0
    seed: int = 0


@dataclass
class Measurement:
    """One backend's figures (times in milliseconds, throughputs per second)."""

    backend: str
    connect_ms: float = 0.0
    write_rps: float = 0.0
    read_rps: float = 0.0
    filtered_qps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    recall_at_10: float = 0.0
    load_ops: int = 0
    load_errors: int = 0
    load_ops_per_s: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        """Errors per operation under the concurrent load (1.0 when nothing ran)."""
        return self.load_errors / self.load_ops if self.load_ops else 1.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able figures."""
        return {**asdict(self), "error_rate": self.error_rate}


@dataclass(frozen=True)
class Backend:
    """How to reach one backend.

    :param connect: open the backend from nothing and make one round trip; the time it takes is measured.
    :param open_store: a store for the measurements (a fresh one per concurrent client).
    """

    name: str
    connect: Callable[[], None]
    open_store: Callable[[], Any]


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def measure_connect(backend: Backend) -> float:
    """Median milliseconds to open the backend and answer a first request."""
    times = []
    for _ in range(CONNECT_TRIALS):
        started = time.perf_counter()
        backend.connect()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure_write(col: Any, data: Dataset, options: Options) -> float:
    """Records per second of ``add`` in batches, vectors with documents and metadata."""
    started = time.perf_counter()
    for start in range(0, data.rows, options.batch):
        stop = start + options.batch
        col.add(ids=data.ids[start:stop], embeddings=data.vectors[start:stop], metadatas=data.metadatas[start:stop],
                documents=data.documents[start:stop])
    return data.rows / (time.perf_counter() - started)


def measure_read(col: Any, data: Dataset, options: Options) -> float:
    """Records per second of ``get`` by ids (random batches, every field)."""
    rng = random.Random(options.seed)
    batches = [rng.sample(data.ids, min(READ_BATCH, data.rows)) for _ in range(options.reads)]
    started = time.perf_counter()
    read = 0
    for ids in batches:
        read += len(col.get(ids=ids, include=["embeddings", "documents", "metadatas"])["ids"])
    return read / (time.perf_counter() - started)


def measure_queries(col: Any, data: Dataset) -> tuple[float, float, float]:
    """p50 and p95 milliseconds of single-vector top-10 queries, and their recall@10 against exact search."""
    latencies, answers = [], []
    col.query(query_embeddings=data.queries[0], n_results=RECALL_K)  # warm-up
    for vector in data.queries:
        started = time.perf_counter()
        got = col.query(query_embeddings=vector, n_results=RECALL_K)
        latencies.append((time.perf_counter() - started) * 1000)
        answers.append(got["ids"][0])
    return _percentile(latencies, 50), _percentile(latencies, 95), recall_at_10(answers, data.truth)


def measure_filtered(col: Any, data: Dataset) -> float:
    """Filtered top-10 queries per second."""
    started = time.perf_counter()
    for vector, where in zip(data.queries, data.filters, strict=True):
        col.query(query_embeddings=vector, n_results=RECALL_K, where=where)
    return len(data.queries) / (time.perf_counter() - started)


def _client(backend: Backend, collection: str, data: Dataset, client_no: int, stop_at: float,
            tally: dict[str, Any], lock: threading.Lock) -> None:
    rng = random.Random(client_no)
    ops = errors = 0
    samples: list[str] = []
    store = None
    try:
        store = backend.open_store()
        col = store.get_collection(collection)
    except Exception as exc:  # a client that cannot even connect counts as one failed operation
        col, errors, ops = None, 1, 1
        samples.append(f"{type(exc).__name__}: {exc}")
    while col is not None and time.perf_counter() < stop_at:
        roll = rng.random()
        try:
            if roll < 0.7:
                q = rng.randrange(len(data.queries))
                col.query(query_embeddings=data.queries[q], n_results=RECALL_K,
                          where=data.filters[q] if roll < 0.2 else None)
            elif roll < 0.85:
                col.get(ids=rng.sample(data.ids, min(20, data.rows)), include=["metadatas", "documents"])
            else:
                i = rng.randrange(data.rows)
                col.upsert(ids=[data.ids[i]], embeddings=data.vectors[i:i + 1], metadatas=[{"touched": client_no}])
        except Exception as exc:
            errors += 1
            if len(samples) < 3:
                samples.append(f"{type(exc).__name__}: {exc}"[:300])
        ops += 1
    if store is not None:
        store.close()  # its connections (and pool threads) end with the client
    with lock:
        tally["ops"] += ops
        tally["errors"] += errors
        tally["samples"] += samples


def measure_reliability(backend: Backend, collection: str, data: Dataset, options: Options
                        ) -> tuple[int, int, float, list[str]]:
    """``clients`` threads, each with its own store, mixing queries (70 %), reads and upserts for ``seconds``.

    :return: operations, errors, operations per second, up to a few error messages.
    """
    tally: dict[str, Any] = {"ops": 0, "errors": 0, "samples": []}
    lock = threading.Lock()
    started = time.perf_counter()
    stop_at = started + options.seconds
    threads = [threading.Thread(target=_client, args=(backend, collection, data, n, stop_at, tally, lock),
                                name=f"compare-{backend.name}-{n}", daemon=True) for n in range(options.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(options.seconds + 120)
    elapsed = time.perf_counter() - started
    return tally["ops"], tally["errors"], tally["ops"] / elapsed if elapsed else 0.0, tally["samples"][:5]


def measure_backend(backend: Backend, collection: str, data: Dataset, options: Options) -> Measurement:
    """Every phase in order on a new collection ``collection`` (the caller removes it afterwards)."""
    result = Measurement(backend.name, connect_ms=measure_connect(backend))
    store = backend.open_store()
    col = store.get_or_create_collection(collection, metadata={"hnsw:space": data.space})
    result.write_rps = measure_write(col, data, options)
    result.read_rps = measure_read(col, data, options)
    result.p50_ms, result.p95_ms, result.recall_at_10 = measure_queries(col, data)
    result.filtered_qps = measure_filtered(col, data)
    result.load_ops, result.load_errors, result.load_ops_per_s, result.error_samples = measure_reliability(
        backend, collection, data, options)
    store.close()
    return result
