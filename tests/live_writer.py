"""A writer that keeps a Chroma collection busy: adds, updates (document, metadata, vector), upserts and deletes.

``python -m tests.live_writer <store> <collection> <seed> <rate> [<report>]`` writes about ``rate`` times a
second with chromadb's PersistentClient and logs nothing. On SIGTERM it finishes the write under way, writes its
counts as JSON to ``<report>`` (when given) and exits 0. :func:`start` and :func:`stop` run it from a test.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

OPERATIONS = ("add", "update", "upsert", "delete")


def run(store: Path, name: str, seed: int, rate: float, report: Path | None) -> None:
    """Write to collection ``name`` of ``store`` until SIGTERM."""
    from tests.support import chroma_client

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    collection = chroma_client(store).get_collection(name)
    first = collection.get(limit=1, include=["embeddings"])
    dims = len(first["embeddings"][0])
    ids = list(collection.get(include=[])["ids"])
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(OPERATIONS, 0)
    added = 0
    while not stopping:
        operation = OPERATIONS[int(rng.integers(len(OPERATIONS)))]
        vector = rng.standard_normal((1, dims), dtype=np.float32)
        text = f"written live {seed}-{sum(counts.values())}"
        meta = {"live": True, "n": int(rng.integers(1 << 30)), "w": float(rng.random())}
        if operation == "add" or not ids:
            record_id = f"live-{seed}-{added}"
            added += 1
            collection.add(ids=[record_id], embeddings=vector, documents=[text], metadatas=[meta])
            ids.append(record_id)
            operation = "add"
        else:
            record_id = ids[int(rng.integers(len(ids)))]
            if operation == "delete":
                collection.delete(ids=[record_id])
                ids.remove(record_id)
            elif operation == "update":
                collection.update(ids=[record_id], embeddings=vector, documents=[text], metadatas=[meta])
            else:
                collection.upsert(ids=[record_id], embeddings=vector, documents=[text], metadatas=[meta])
        counts[operation] += 1
        time.sleep(1.0 / rate)
    if report is not None:
        report.write_text(json.dumps(counts))


def start(store: Path, name: str, seed: int, rate: float, report: Path) -> subprocess.Popen[bytes]:
    """The writer, started in its own process from the repository root."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.Popen([sys.executable, "-m", "tests.live_writer", str(store), name, str(seed), str(rate),
                             str(report)], cwd=root)


def stop(process: subprocess.Popen[bytes], report: Path) -> dict[str, Any]:
    """Stop the writer cleanly and return its counts per operation."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, "the live writer did not stop cleanly"
    counts: dict[str, Any] = json.loads(report.read_text())
    return counts


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
        Path(sys.argv[5]) if len(sys.argv) > 5 else None)
