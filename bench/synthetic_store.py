"""Deterministic synthetic Chroma stores for the benchmarks, cached under ``bench/.cache/chroma-<rows>x<dims>/``.

One cosine collection, ``bench_vectors``: float32 vectors from ``numpy.random.default_rng(42)``, UUID-shaped
ids (so id order, which decides the migration's chunks, is not insertion order, as with real data), short
documents and small metadata dicts with int, float, bool and str values. A marker file is written only after
seeding finished; a store without a matching marker is deleted and seeded again.

Two shapes of vectors:

* ``gaussian`` (default): i.i.d. normal components, no structure at all. The worst case for any graph index
  (HNSW recall is low at every ``ef_search``), and the cheapest to generate: the load benchmarks use it.
* ``embedding``: shaped like sentence embeddings, whose information lives in far fewer dimensions than they
  have: a 48-dimensional standard normal latent vector mapped into 384 dimensions by a fixed random projection,
  plus a little isotropic noise. Search benchmarks use it, as their recall would mean nothing on pure noise. Its
  difficulty was chosen to look like real embeddings: on 50,000 rows, HNSW (m 16, ef_construction 100) finds
  recall@10 0.88 at ef_search 20, 0.90 at 40, 0.97 at 100 and 0.99 at 200 (topic clusters, tried too, made every
  query trivially easy). Cached as ``chroma-<rows>x<dims>-embedding``.

Run as a script to seed one store: ``python bench/synthetic_store.py --rows 20000 [--shape embedding]``.
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
SHAPES = ("gaussian", "embedding")
LATENT_DIMENSIONS = 48
NOISE = 0.2
TOPICS = ("billing", "shipping", "returns", "accounts", "security", "api", "search", "latency")


@dataclass(frozen=True)
class SyntheticStore:
    """A seeded store: its path, collection and shape."""

    path: Path
    collection: str
    rows: int
    dimensions: int


def store_path(cache_dir: Path, rows: int, dimensions: int = DIMENSIONS, shape: str = "gaussian") -> Path:
    """``<cache_dir>/chroma-<rows>x<dims>``, with ``-embedding`` for that shape."""
    return cache_dir / (f"chroma-{rows}x{dimensions}" + ("" if shape == "gaussian" else f"-{shape}"))


def _marker(rows: int, dimensions: int, shape: str = "gaussian") -> dict[str, Any]:
    marker = {"scheme": SCHEME, "rows": rows, "dimensions": dimensions, "seed": SEED, "space": SPACE,
              "collection": COLLECTION}
    if shape == "gaussian":
        return marker
    return marker | {"shape": shape, "latent": LATENT_DIMENSIONS, "noise": NOISE}


def is_seeded(path: Path, rows: int, dimensions: int = DIMENSIONS, shape: str = "gaussian") -> bool:
    """Whether ``path`` holds a completely seeded store of this shape."""
    try:
        found = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return all(found.get(key) == value for key, value in _marker(rows, dimensions, shape).items())


class EmbeddingLikeVectors:
    """Vectors whose information lives in a small latent space, projected to ``dimensions``."""

    def __init__(self, dimensions: int) -> None:
        fixed = np.random.default_rng(SEED + 1)  # the same projection for every batch
        self.projection = fixed.standard_normal((LATENT_DIMENSIONS, dimensions)).astype(np.float32)
        self.dimensions = dimensions

    def __call__(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` vectors drawn with ``rng``."""
        latent = rng.standard_normal((count, LATENT_DIMENSIONS), dtype=np.float32)
        noise = NOISE * rng.standard_normal((count, self.dimensions), dtype=np.float32)
        return (latent @ self.projection / np.sqrt(LATENT_DIMENSIONS) + noise).astype(np.float32)


def batch_records(rng: np.random.Generator, start: int, stop: int, dimensions: int,
                  vectors_of: EmbeddingLikeVectors | None = None) -> dict[str, Any]:
    """Records ``start`` to ``stop`` (exclusive) as keyword arguments for ``collection.add``.

    :param vectors_of: draws the vectors of the ``embedding`` shape; ``None`` draws ``gaussian`` ones.
    """
    count = stop - start
    vectors = (vectors_of(rng, count) if vectors_of is not None
               else rng.standard_normal((count, dimensions), dtype=np.float32))
    raw_ids = rng.bytes(16 * count)
    scores = rng.random(count)
    ids = [str(uuid.UUID(bytes=raw_ids[16 * k:16 * (k + 1)], version=4)) for k in range(count)]
    documents = [f"{TOPICS[i % len(TOPICS)]} note {i}: how to handle {TOPICS[(i * 3) % len(TOPICS)]} at scale"
                 for i in range(start, stop)]
    metadatas = [{"topic": TOPICS[i % len(TOPICS)], "rank": i, "score": round(float(scores[k]), 6),
                  "published": i % 3 != 0} for k, i in enumerate(range(start, stop))]
    return {"ids": ids, "embeddings": vectors, "documents": documents, "metadatas": metadatas}


def seed_store(path: Path, rows: int, dimensions: int = DIMENSIONS, *, log: bool = True,
               shape: str = "gaussian") -> SyntheticStore:
    """Create the store at ``path`` unless a complete one is there already.

    :param path: store directory; a half-seeded one (no matching marker) is removed first.
    :param rows: number of records.
    :param dimensions: vector width.
    :param log: print progress.
    :param shape: ``gaussian`` or ``embedding`` (see the module docstring).
    """
    store = SyntheticStore(path, COLLECTION, rows, dimensions)
    if is_seeded(path, rows, dimensions, shape):
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
    vectors_of = EmbeddingLikeVectors(dimensions) if shape == "embedding" else None
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        collection.add(**batch_records(rng, start, stop, dimensions, vectors_of))
        if log and (stop == rows or (start // step) % 20 == 19):
            elapsed = time.perf_counter() - started
            print(f"  seeded {stop}/{rows} rows ({stop / elapsed:.0f} rows/s)", flush=True)
    count = collection.count()
    if count != rows:
        raise RuntimeError(f"seeding {path} ended with {count} records, not {rows}")
    marker = _marker(rows, dimensions, shape) | {"seconds": round(time.perf_counter() - started, 1),
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
    parser.add_argument("--shape", choices=SHAPES, default="gaussian")
    args = parser.parse_args()
    path = args.path or store_path(CACHE_DIR, args.rows, args.dimensions, args.shape)
    seed_store(path, args.rows, args.dimensions, shape=args.shape)
    print(json.dumps({"path": str(path), "rows": args.rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
