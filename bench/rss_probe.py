"""Peak RSS of one full migration, measured in a fresh process: ``python bench/rss_probe.py --path P --run-id R``.

Prints one JSON line: the peak resident set size of this process (``ru_maxrss``, cross-checked with the
``VmHWM`` of ``/proc/self/status``), the RSS after the imports (before any work), the peak after each
migration step, and the migration's timing. The PostgreSQL server's memory is not counted: it is another
process.

Linux carries a parent's peak RSS into ``ru_maxrss`` of a child it spawns (``execve`` keeps the old address
space's high-water mark), so ``ru_maxrss`` is only this process's own peak when the parent was smaller.
``run_bench.py`` therefore runs these probes first, while it is small, and ``VmHWM`` (the high-water mark of
this process's own address space) is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

import isolation


def ru_maxrss_mb() -> float:
    """``ru_maxrss`` of this process so far, in MB (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _status_mb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmHWM``, ``VmRSS``) in MB, or ``None`` off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def main() -> int:
    """Run one migration of the store at ``--path`` and print the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True, help="seeded Chroma store")
    parser.add_argument("--collection", default="bench_vectors")
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args()
    isolation.isolate()

    import chromadb  # noqa: F401  (imported now so that the "after imports" figure includes it)
    import workloads

    from vectorops.config import load_settings

    settings = load_settings()
    rss_after_imports = _status_mb("VmRSS")
    steps: dict[str, dict[str, float | None]] = {}

    def on_step(step: str) -> None:
        steps[step] = {"rss_mb": _status_mb("VmRSS"), "peak_so_far_mb": _status_mb("VmHWM")}

    timing = workloads.run_migration(settings, args.path, args.collection, args.run_id, on_step=on_step)
    print(json.dumps({"rows": timing.rows, "peak_rss_mb": ru_maxrss_mb(), "vm_hwm_mb": _status_mb("VmHWM"),
                      "rss_after_imports_mb": rss_after_imports, "after_step": steps,
                      "migration": timing.as_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
