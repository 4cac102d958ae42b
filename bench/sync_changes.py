"""A writer for the sync benchmark: change a given number of records of a store copy with chromadb's own client.

Run in a fresh process (``python bench/sync_changes.py --path COPY --changes N --seed S``) so that the bench's
own process never holds Chroma's index in memory while it measures. The change is a mix, of ``N`` records in all:

* 30 % vector + document updates (``update`` with new embeddings and documents),
* 20 % metadata-only updates (``update`` with metadatas alone: the vector is unchanged, its record rewritten),
* 15 % adds of new ids,
* 20 % deletes,
* 15 % upserts, half of existing ids (new vector, document, metadata), half of new ids.

The records touched are distinct. Prints one JSON line: what it did, and what a sync should then report
(``added`` = adds + new-id upserts, ``updated`` = both updates + existing-id upserts, ``deleted``).
It refuses a cached store (one with the seeding marker): the bench hands it scratch copies, marker removed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

MIX = (("update_vector", 0.30), ("update_metadata", 0.20), ("add", 0.15), ("delete", 0.20))  # the rest: upserts


def split(changes: int) -> dict[str, int]:
    """How many records of each kind ``changes`` records are: the :data:`MIX`, upserts taking the remainder.

    :param changes: records to change in all.
    """
    parts = {kind: round(changes * share) for kind, share in MIX}
    upserts = max(0, changes - sum(parts.values()))
    parts["upsert_existing"] = upserts // 2
    parts["upsert_new"] = upserts - upserts // 2
    return parts


def _new_records(rng: np.random.Generator, ids: list[str], vectors_of: Any, tag: str) -> dict[str, Any]:
    from synthetic_store import TOPICS

    count = len(ids)
    return {"ids": ids, "embeddings": vectors_of(rng, count),
            "documents": [f"{TOPICS[k % len(TOPICS)]} note {tag}-{k}: changed by the sync bench" for k in range(count)],
            "metadatas": [{"topic": TOPICS[(k * 5) % len(TOPICS)], "rank": k, "score": round(float(rng.random()), 6),
                           "published": k % 2 == 0, "changed_by": tag} for k in range(count)]}


def change(path: Path, changes: int, seed: int) -> dict[str, Any]:
    """Change ``changes`` records of the store copy at ``path`` (see the module docstring).

    :param path: a scratch copy of a seeded store (never the cached store itself).
    :param changes: records to change.
    :param seed: seeds the choice of records and the new values.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from synthetic_store import COLLECTION, DIMENSIONS, EmbeddingLikeVectors

    started = time.perf_counter()
    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_collection(COLLECTION)
    step = int(client.get_max_batch_size())
    existing = sorted(collection.get(include=[])["ids"])
    parts = split(changes)
    touched = parts["update_vector"] + parts["update_metadata"] + parts["delete"] + parts["upsert_existing"]
    if touched > len(existing):
        raise SystemExit(f"{path}: {changes} changes touch {touched} existing records; the collection holds "
                         f"{len(existing)}")
    rng = np.random.default_rng(seed)
    chosen = [existing[i] for i in rng.choice(len(existing), size=touched, replace=False)]
    vectors_of = EmbeddingLikeVectors(DIMENSIONS)
    tag = f"s{seed}"
    groups: dict[str, list[str]] = {}
    at = 0
    for kind in ("update_vector", "update_metadata", "delete", "upsert_existing"):
        groups[kind], at = chosen[at:at + parts[kind]], at + parts[kind]
    new_ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(parts["add"] + parts["upsert_new"])]
    groups["add"], groups["upsert_new"] = new_ids[:parts["add"]], new_ids[parts["add"]:]
    for kind, ids in groups.items():
        for start in range(0, len(ids), step):
            part = ids[start:start + step]
            records = _new_records(rng, part, vectors_of, f"{tag}-{kind}")
            if kind == "update_vector":
                collection.update(ids=part, embeddings=records["embeddings"], documents=records["documents"])
            elif kind == "update_metadata":
                collection.update(ids=part, metadatas=records["metadatas"])
            elif kind == "delete":
                collection.delete(ids=part)
            elif kind == "add":
                collection.add(**records)
            else:
                collection.upsert(**records)
    count = collection.count()
    return {"changes": changes, "parts": parts, "count_after": count,
            "expected": {"added": parts["add"] + parts["upsert_new"],
                         "updated": parts["update_vector"] + parts["update_metadata"] + parts["upsert_existing"],
                         "deleted": parts["delete"]},
            "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str]) -> int:
    """Change the records; print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--changes", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    from synthetic_store import MARKER

    if (args.path / MARKER).exists():  # the bench removes the marker from its copies
        raise SystemExit(f"{args.path} is a cached seeded store ({MARKER}); the sync bench writes only its copies")
    print(json.dumps(change(args.path, args.changes, args.seed)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
