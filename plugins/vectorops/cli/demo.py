"""A small, deterministic demo Chroma store for ``make run`` and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from chromadb.api.collection_configuration import Space

TOPICS = ("billing", "shipping", "returns", "accounts", "security", "api", "search", "latency")


def seed_demo_store(path: str | Path, rows: int = 2000, seed: int = 7) -> str:
    """Create (or reuse) a demo store with three collections, one per distance space.

    ``support_articles`` (cosine, 384 dims), ``product_images`` (l2, 64 dims) and ``faq`` (ip, 384 dims,
    normalised). Existing demo collections are left as they are, so reseeding is idempotent.

    :return: the store path.
    :raises ValueError: for ``rows`` below 1, a path that is a file, or a store holding a collection that is not a
        demo one (a user's store is never written).
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if rows < 1:
        raise ValueError(f"--rows {rows}: give a number of rows of 1 or more")
    path = Path(path).resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{str(path)!r} is a file: give a directory for the demo store")
    _refuse_a_user_store(path)
    path.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    existing = {c.name for c in client.list_collections()}
    rng = np.random.default_rng(seed)
    specs: list[tuple[str, Space, int, int]] = [
        ("support_articles", "cosine", 384, rows), ("product_images", "l2", 64, rows // 2),
        ("faq", "ip", 384, max(rows // 10, 1))]
    for name, space, dims, count in specs:
        if name in existing:
            continue
        collection = client.create_collection(name, configuration={"hnsw": {"space": space}},
                                              metadata={"embedding_model": "all-MiniLM-L6-v2", "demo": True})
        vectors = rng.standard_normal((count, dims), dtype=np.float32)
        if space == "ip":
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        step = min(5000, client.get_max_batch_size())
        for start in range(0, count, step):
            stop = min(count, start + step)
            collection.add(
                ids=[f"{name}-{i:06d}" for i in range(start, stop)],
                embeddings=vectors[start:stop],
                documents=[f"{TOPICS[i % len(TOPICS)]} article {i}: how to handle {TOPICS[(i * 3) % len(TOPICS)]}"
                           for i in range(start, stop)],
                metadatas=[{"topic": TOPICS[i % len(TOPICS)], "rank": i, "score": round(float(i) / count, 6),
                            "published": i % 3 != 0} for i in range(start, stop)],
            )
    return str(path)


def _refuse_a_user_store(path: Path) -> None:
    """Refuse a directory holding anything but a demo store, read without opening it with Chroma (whose client
    writes when it opens a store): a user's store is never written."""
    from vectorops.chroma.files.catalog import read_catalog
    from vectorops.chroma.preflight import SQLITE_FILE
    from vectorops.errors import FilesUnreadable

    if not path.is_dir() or not any(path.iterdir()):
        return
    if not (path / SQLITE_FILE).is_file():
        raise ValueError(f"{str(path)!r} is a directory with other files in it: give a new or empty directory, or "
                         "a demo store, to seed-demo")
    try:
        foreign = sorted(e.ref.name for e in read_catalog(path) if e.metadata.get("demo") is not True)
    except FilesUnreadable as exc:
        raise ValueError(f"{str(path)!r} holds a Chroma store vectorops cannot read ({exc}): seed-demo writes only "
                         "a new or a demo store") from exc
    if foreign:
        raise ValueError(f"{str(path)!r} is a Chroma store with collections that are not vectorops' demo "
                         f"({', '.join(map(repr, foreign[:5]))}): seed-demo writes only a new or a demo store")
