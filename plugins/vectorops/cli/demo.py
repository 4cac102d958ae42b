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
    normalised). Existing collections are left as they are, so reseeding is idempotent.

    :return: the store path.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path = Path(path).resolve()
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
