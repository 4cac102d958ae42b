"""Peak RSS of one full migration, measured in a fresh process: ``python bench/rss_probe.py --path P --run-id R``.

Prints one JSON line: the peak resident set size of this process (``ru_maxrss``), the RSS after the imports
(before any work), and the migration's timing. The PostgreSQL server's memory is not counted: it is another
process.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

import isolation


def _peak_mb() -> float:
    """``ru_maxrss`` of this process so far, in MB (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> int:
    """Run one migration of the store at ``--path`` and print the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True, help="seeded Chroma store")
    parser.add_argument("--collection", default="bench_vectors")
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args()
    isolation.isolate()

    import chromadb  # noqa: F401  (imported now so that the "after imports" figure includes it)
    import psutil
    import workloads

    from vectorops.config import load_settings

    settings = load_settings()
    process = psutil.Process()
    rss_after_imports = process.memory_info().rss
    steps: dict[str, dict[str, float]] = {}

    def on_step(step: str) -> None:
        steps[step] = {"rss_mb": round(process.memory_info().rss / 2**20, 1), "peak_so_far_mb": _peak_mb()}

    timing = workloads.run_migration(settings, args.path, args.collection, args.run_id, on_step=on_step)
    print(json.dumps({"rows": timing.rows, "peak_rss_mb": _peak_mb(),
                      "rss_after_imports_mb": round(rss_after_imports / 2**20, 1), "after_step": steps,
                      "migration": timing.as_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
