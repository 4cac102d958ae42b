"""One extraction of a whole Chroma collection in a fresh process: its speed and its peak memory.

``python bench/extract_probe.py --path STORE --mode MODE`` reads every record (id, vector, document, metadata,
uri) of ``bench_vectors`` and prints one JSON line. Modes:

* ``unpaged_get``: the baseline, one ``collection.get(include=["embeddings", "documents", "metadatas"])``;
* ``paged_api``: an id scan (``include=[]``, pages of 50,000), then ``get(ids=...)`` by 5,000 ids, in the
  migration's id order (Chroma's API, as vectorops reads an HTTP source or a store it cannot read directly);
* ``vectorops``: what a migration reads (:func:`load_bench.staged_batches`): the ids and positions from the
  files, sorted bytewise as the chunk plan orders them, then :func:`vectorops.chroma.staged.fetch_staged` by 5,000.

The clock starts after the imports and stops when the last record is in memory; peak memory is this process's
``VmHWM`` (fresh per mode, so no mode inherits another's peak).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import isolation
from rss_probe import _status_mb

COLLECTION = "bench_vectors"
FETCH = 5_000
ID_PAGE = 50_000


def _unpaged(path: Path) -> int:
    from vectorops.chroma import source

    collection = source.get_collection(source.SourceSpec(path=str(path)), COLLECTION)
    got = collection.get(include=["embeddings", "documents", "metadatas"])
    return len(got["ids"])


def _sorted_bytewise(ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda i: i.encode("utf-8", "surrogatepass"))


def _paged_api(path: Path) -> int:
    from vectorops.chroma import fetch, source

    spec = source.SourceSpec(path=str(path))
    ids = _sorted_bytewise([i for page in fetch.iter_id_pages(spec, COLLECTION, ID_PAGE) for i in page])
    read = 0
    for batch in fetch.one_ahead(lambda page: fetch.fetch(spec, COLLECTION, page),
                                 (ids[i:i + FETCH] for i in range(0, len(ids), FETCH))):
        read += len(batch.ids)
    return read


def _vectorops(path: Path) -> int:
    import load_bench

    return sum(len(batch.ids) for batch in load_bench.staged_batches(str(path), COLLECTION))


MODES: dict[str, Any] = {"unpaged_get": _unpaged, "paged_api": _paged_api, "vectorops": _vectorops}


def main() -> int:
    """Run one mode and print ``{"mode", "rows", "seconds", "rows_per_s", "peak_rss_mb", ...}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--mode", choices=sorted(MODES), required=True)
    args = parser.parse_args()
    isolation.isolate()
    import chromadb  # noqa: F401  (imported before the clock, like the other modes' imports)
    import load_bench  # noqa: F401

    after_imports = _status_mb("VmRSS")
    started = time.perf_counter()
    try:
        rows = MODES[args.mode](args.path)
        error = None
    except Exception as exc:  # the unpaged get fails above SQLite's variable limit: that is a result
        rows, error = 0, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    print(json.dumps({"mode": args.mode, "rows": rows, "seconds": round(seconds, 4),
                      "rows_per_s": round(rows / seconds, 1) if rows else None, "error": error,
                      "rss_after_imports_mb": after_imports, "peak_rss_mb": _status_mb("VmHWM")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
