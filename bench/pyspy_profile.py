"""Where a whole migration's CPU time goes: py-spy samples every thread of a fresh ``rss_probe.py`` process.

pyinstrument (``workloads.pyinstrument_chunk_load``) sees only the thread it runs in, where the files reader's
prefetch thread and the COPY writer thread appear as waits. py-spy samples all threads from outside, and by
default only while they run, so its sample counts are CPU time per thread and per function.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import isolation

RATE = 200
STEPS = {"prepare": "prepare (vectorops/migration/steps.py)", "load": "load (vectorops/migration/steps.py)",
         "finalize": "finalize (vectorops/migration/steps.py)",
         "finalize: Great Expectations suite (pool thread)": "_suite (vectorops/quality/gate.py)"}
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?):(?P<line>\d+)\)$")


def available() -> bool:
    """Whether the ``py-spy`` executable is installed next to this Python."""
    return (Path(sys.executable).parent / "py-spy").is_file() or shutil.which("py-spy") is not None


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"]
    for anchor in ("vectorops/", "chromadb/", "psycopg/", "numpy/", "great_expectations/", "sqlalchemy/",
                   "pgvector/", "json/", "sqlite3/"):
        if anchor in file:
            file = file[file.index(anchor):]
            break
    else:
        file = Path(file).name
    return f"{match['name']} ({file})"


def summarise(raw: str, top: int = 15) -> dict[str, Any]:
    """Sample counts by thread, by migration step and by function (own time), from py-spy's ``--format raw``."""
    by_thread: Counter[str] = Counter()
    by_step: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    main_pid = None
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        process = ""
        if frames[0].startswith("process "):
            process = frames.pop(0).split(":", 1)[0]
            main_pid = main_pid or process
        thread = re.sub(r"^thread \(\d+\): ", "", frames[0]) if frames[0].startswith("thread (") else "?"
        thread = re.sub(r"_\d+$", "", thread)
        if process and process != main_pid:
            thread = f"child process: {thread}"
        short = [_short(f) for f in frames[1:]]
        if not short:  # no Python frame: the thread is inside C code that released the GIL
            continue
        if thread.endswith("(worker)"):
            thread = "pool worker"
        by_thread[thread] += count
        step = next((name for name, marker in STEPS.items() if any(f.startswith(marker) for f in short)), None)
        if step is None:
            step = ("load (files reader thread)" if thread.startswith("chroma-fetch") else
                    "imports, start-up and other threads")
        by_step[step] += count
        own[short[-1]] += count
        total += count
    share = (lambda n: round(n / total, 4)) if total else (lambda n: 0.0)
    return {"samples": total, "rate_hz": RATE,
            "by_thread": [{"thread": t, "samples": n, "share": share(n)} for t, n in by_thread.most_common()],
            "by_step": [{"step": s, "samples": n, "share": share(n)} for s, n in by_step.most_common()],
            "by_own_time": [{"function": f, "samples": n, "share": share(n)} for f, n in own.most_common(top)]}


def profile_migration(store: Path, run_id: str) -> dict[str, Any]:
    """Sample one whole migration of ``store`` (``rss_probe.py`` in a fresh process) with py-spy.

    :raises RuntimeError: when py-spy or the migration fails.
    """
    spy = Path(sys.executable).parent / "py-spy"
    with tempfile.TemporaryDirectory(prefix="vectorops-pyspy-") as tmp:
        out = Path(tmp) / "raw.txt"
        proc = subprocess.run([str(spy if spy.is_file() else "py-spy"), "record", "--format", "raw", "--rate",
                               str(RATE), "--threads", "--nonblocking", "-o", str(out), "--",
                               sys.executable, str(isolation.BENCH_DIR / "rss_probe.py"), "--path", str(store),
                               "--run-id", run_id], capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"py-spy exited with {proc.returncode}: {proc.stderr[-2000:]}")
        summary = summarise(out.read_text())
    summary["rows"] = int(store.name.split("-")[1].split("x")[0])
    return summary
