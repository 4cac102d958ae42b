"""What the validation gate's Chroma cross-check costs, beside a full read of the same collection's files.

The gate asks Chroma's own API (one child process, on one private copy of the store: see
``vectorops.chroma.snapshot``) for the sample's records and 500 neighbours of 20 queries. This measures, alternating
in one process, three times each: a full files read of the collection (the baseline), the private copy alone, and
the whole cross-check. Run: ``.venv/bin/python bench/crosscheck_bench.py 100000`` (seeds the Gaussian bench store
under ``bench/.cache`` when it is missing; prints one JSON line).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from synthetic_store import COLLECTION, is_seeded, seed_store, store_path

from vectorops.chroma import api_child, fetch, snapshot
from vectorops.chroma.source import SourceSpec, describe

RUNS = 3
QUERIES = 20
NEIGHBOURS = 500
SAMPLE = 200


def main(argv: list[str]) -> int:
    """Measure and print the figures for a store of ``argv[0]`` rows (default 100,000)."""
    rows = int(argv[0]) if argv else 100_000
    path = store_path(Path(__file__).resolve().parent / ".cache", rows)
    if not is_seeded(path, rows):
        seed_store(path, rows)
    spec = SourceSpec(path=str(path))
    info = describe(spec, COLLECTION)
    sample = next(fetch.iter_records(spec, COLLECTION, info.space, page=SAMPLE, limit=SAMPLE)).ids
    queries = np.random.default_rng(0).standard_normal((QUERIES, info.dimensions or 1)).astype(np.float32)
    read, copy, check = [], [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        sum(len(batch.ids) for batch in fetch.iter_records(spec, COLLECTION, info.space))
        read.append(time.perf_counter() - started)
        started = time.perf_counter()
        snapshot.private_copy(path)
        copy.append(time.perf_counter() - started)
        snapshot.discard(path)
        started = time.perf_counter()
        api_child.crosscheck(spec, COLLECTION, sample, queries, NEIGHBOURS)
        check.append(time.perf_counter() - started)
    print(json.dumps({
        "rows": rows, "store_mb": round(snapshot.store_bytes(path) / 2**20, 1),
        "full_files_read_s": [round(s, 2) for s in read], "private_copy_s": [round(s, 2) for s in copy],
        "crosscheck_s": [round(s, 2) for s in check],
        "crosscheck_over_full_read": round(statistics.median(check) / statistics.median(read), 2),
        "copy_over_full_read": round(statistics.median(copy) / statistics.median(read), 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
