"""Deterministic synthetic Chroma stores for the benchmarks, cached under ``bench/.cache/chroma-<rows>x<dims>/``.

One cosine collection, ``bench_vectors``: float32 vectors from ``numpy.random.default_rng(42)``, UUID-shaped
ids (so id order, which decides the migration's chunks, is not insertion order, as with real data), short
documents and small metadata dicts with int, float, bool and str values. A marker file is written only after
seeding finished; a store without a matching marker is deleted and seeded again.

Run as a script to seed one store: ``python bench/synthetic_store.py --rows 20000``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

COLLECTION = "bench_vectors"
DIMENSIONS = 384
SEED = 42
SPACE = "cosine"
MARKER = ".bench-seeded.json"
SCHEME = 2
TOPICS = ("billing", "shipping", "returns", "accounts", "security", "api", "search", "latency")


@dataclass(frozen=True)
class SyntheticStore:
    """A seeded store: its path, collection and shape."""

    path: Path
    collection: str
    rows: int
    dimensions: int


def store_path(cache_dir: Path, rows: int, dimensions: int = DIMENSIONS) -> Path:
    """``<cache_dir>/chroma-<rows>x<dims>``."""
    return cache_dir / f"chroma-{rows}x{dimensions}"


def _marker(rows: int, dimensions: int) -> dict[str, Any]:
    return {"scheme": SCHEME, "rows": rows, "dimensions": dimensions, "seed": SEED, "space": SPACE,
            "collection": COLLECTION}


def is_seeded(path: Path, rows: int, dimensions: int = DIMENSIONS) -> bool:
    """Whether ``path`` holds a completely seeded store of this shape."""
    try:
        found = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return all(found.get(key) == value for key, value in _marker(rows, dimensions).items())


def batch_records(rng: np.random.Generator, start: int, stop: int, dimensions: int) -> dict[str, Any]:
    """Records ``start`` to ``stop`` (exclusive) as keyword arguments for ``collection.add``."""
    count = stop - start
    vectors = rng.standard_normal((count, dimensions), dtype=np.float32)
    raw_ids = rng.bytes(16 * count)
    scores = rng.random(count)
    ids = [str(uuid.UUID(bytes=raw_ids[16 * k:16 * (k + 1)], version=4)) for k in range(count)]
    documents = [f"{TOPICS[i % len(TOPICS)]} note {i}: how to handle {TOPICS[(i * 3) % len(TOPICS)]} at scale"
                 for i in range(start, stop)]
    metadatas = [{"topic": TOPICS[i % len(TOPICS)], "rank": i, "score": round(float(scores[k]), 6),
                  "published": i % 3 != 0} for k, i in enumerate(range(start, stop))]
    return {"ids": ids, "embeddings": vectors, "documents": documents, "metadatas": metadatas}


def seed_store(path: Path, rows: int, dimensions: int = DIMENSIONS, *, log: bool = True) -> SyntheticStore:
    """Create the store at ``path`` unless a complete one is there already.

    :param path: store directory; a half-seeded one (no matching marker) is removed first.
    :param rows: number of records.
    :param dimensions: vector width.
    :param log: print progress.
    """
    store = SyntheticStore(path, COLLECTION, rows, dimensions)
    if is_seeded(path, rows, dimensions):
        return store
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    started = time.perf_counter()
    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.create_collection(COLLECTION, configuration={"hnsw": {"space": SPACE}},
                                          metadata={"embedding_model": "synthetic", "bench": True})
    step = int(client.get_max_batch_size())
    rng = np.random.default_rng(SEED)
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        collection.add(**batch_records(rng, start, stop, dimensions))
        if log and (stop == rows or (start // step) % 20 == 19):
            elapsed = time.perf_counter() - started
            print(f"  seeded {stop}/{rows} rows ({stop / elapsed:.0f} rows/s)", flush=True)
    count = collection.count()
    if count != rows:
        raise RuntimeError(f"seeding {path} ended with {count} records, not {rows}")
    marker = _marker(rows, dimensions) | {"seconds": round(time.perf_counter() - started, 1),
                                          "batch": step, "chromadb": chromadb.__version__}
    (path / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return store


def main() -> int:
    """Seed one store (used by ``run_bench.py`` in a child process, so its memory is returned)."""
    from isolation import CACHE_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--dimensions", type=int, default=DIMENSIONS)
    parser.add_argument("--path", type=Path, default=None)
    args = parser.parse_args()
    path = args.path or store_path(CACHE_DIR, args.rows, args.dimensions)
    seed_store(path, args.rows, args.dimensions)
    print(json.dumps({"path": str(path), "rows": args.rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
