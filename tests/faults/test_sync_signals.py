"""Ctrl-C and SIGKILL of `vectorops sync` (once, and under --watch): the exit code and the line it prints,
nothing half-applied (the registry's counts and read point match the table), the run recorded as failed, and a
rerun converging on Chroma exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest, registry_row
from vectorops.chroma import locate
from vectorops.chroma.files import changes
from vectorops.chroma.files import reader as files_reader
from vectorops.naming import table_name_for

SCHEMA, DIMS = "sync_signals", 8
RERUN_BATCH = 500  # the batch size of the reruns after a signal (the signalled syncs commit one record at a time)


def _store(path: Path, name: str, n: int) -> Any:
    collection = chroma_client(path).get_or_create_collection(
        name, metadata={"hnsw:space": "l2", "hnsw:sync_threshold": 100, "hnsw:batch_size": 50},
        embedding_function=None)
    rng = np.random.default_rng(7)
    add_records(collection, [f"r-{i:05d}" for i in range(n)], rng.standard_normal((n, DIMS), dtype=np.float32),
                documents=[f"document {i}" for i in range(n)])
    return collection


def _migrated(settings: Any, path: Path, name: str) -> Any:
    collection = _store(path, name, 100)
    locate.forget_files()
    [summary] = migrate_in_process(settings, {"chroma_path": str(path), "target_schema": SCHEMA,
                                              "collections": [name]}, f"signals-{name}")
    assert summary["validation"] == "passed"
    return collection


def _change(collection: Any, round_no: int, adds: int = 300) -> None:
    rng = np.random.default_rng(round_no)
    collection.add(ids=[f"k{round_no}-{i}" for i in range(adds)],
                   embeddings=rng.standard_normal((adds, DIMS), dtype=np.float32))
    collection.delete(ids=[f"r-{i:05d}" for i in range(round_no * 5, round_no * 5 + 5)])


def _sync(path: Path, name: str, dsn: str, *extra: str, batch_size: int = 1) -> subprocess.Popen[bytes]:
    """``vectorops sync`` of ``name``; one-record batches by default, so that a signal lands between commits."""
    command = [sys.executable, "-m", "vectorops.cli", "sync", "--chroma-path", str(path), "--collection", name,
               "--schema", SCHEMA, "--dsn", dsn, "--batch-size", str(batch_size), *extra]
    # a shell without job control starts background commands with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: the sync must get SIGINT's default, as a terminal gives it, or Ctrl-C is not tested
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _runs(dsn: str, name: str) -> list[tuple[str, int | None, str | None]]:
    with psycopg.connect(dsn) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT status, to_point, error FROM vectorops.sync_runs WHERE collection = %s ORDER BY started_at",
            (name,))]


def _wait_for(check: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _consistent(dsn: str, name: str) -> None:
    """The registry's counts describe the table: whatever committed, committed whole."""
    row = registry_row(dsn, name)
    with psycopg.connect(dsn) as conn:
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(SCHEMA, table_name_for(name)))).fetchone()
    assert count is not None and row["loaded_count"] == count[0]


def _converged(dsn: str, path: Path, name: str) -> None:
    assert pg_digest(dsn, SCHEMA, table_name_for(name)) == chroma_digest(path, name)
    assert registry_row(dsn, name)["read_point"] == changes.read_point(files_reader.open_collection(path, name,
                                                                                                    "l2"))


def test_ctrl_c_of_a_sync_exits_130_with_a_line_and_applies_nothing_half(settings: Any, dsn: str,
                                                                          tmp_path: Path) -> None:
    name = "sync-sigint"
    collection = _migrated(settings, tmp_path, name)
    _change(collection, 1, adds=3000)  # 3,000 one-record batches: seconds of work for the signal to land in
    proc = _sync(tmp_path, name, dsn)
    _wait_for(lambda: any(r[0] == "running" and r[1] is not None for r in _runs(dsn, name)), "a committed batch")
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.decode().strip().splitlines()[-1].startswith("vectorops sync: interrupted; every batch committed "
                                                            "before it stands"), err
    [(status, to_point, error)] = _runs(dsn, name)
    assert status == "failed" and error is not None and error.startswith("interrupted (SIGINT)")
    point = registry_row(dsn, name)["read_point"]
    assert to_point == point and point < changes.read_point(files_reader.open_collection(tmp_path, name, "l2"))
    _consistent(dsn, name)
    # the rerun applies the rest in batches of 500: one-record batches made the rerun of about 3,000 records most
    # of this test's time, and what it checks (it resumes from the interrupted run's read point and converges)
    # does not depend on the batch size
    rerun = _sync(tmp_path, name, dsn, batch_size=RERUN_BATCH)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, (out, err)
    assert f"read point {point} → " in out.decode()
    _converged(dsn, tmp_path, name)


@pytest.mark.parametrize("signal_no", [signal.SIGKILL, signal.SIGINT])
def test_a_killed_or_interrupted_sync_watch_loses_nothing_and_the_next_sync_converges(
        settings: Any, dsn: str, tmp_path: Path, signal_no: int) -> None:
    name = f"sync-watch-{signal_no}"
    collection = _migrated(settings, tmp_path, name)
    _change(collection, 1, adds=30)  # the first round only has to finish: the signal lands in the second
    proc = _sync(tmp_path, name, dsn, "--watch", "1")
    _wait_for(lambda: [r[0] for r in _runs(dsn, name)][:1] == ["done"], "the first round")
    _change(collection, 2)
    _wait_for(lambda: any(r[0] == "running" and r[1] is not None for r in _runs(dsn, name)[1:]),
              "a committed batch of a later round")
    os.killpg(proc.pid, signal_no)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == (-signal.SIGKILL if signal_no == signal.SIGKILL else 130), (out, err)
    _consistent(dsn, name)
    rerun = _sync(tmp_path, name, dsn, batch_size=RERUN_BATCH)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, (out, err)
    runs = _runs(dsn, name)
    failed = [r for r in runs if r[0] != "done"]  # rounds of --watch that found nothing are done too
    assert len(failed) == 1 and failed[0][0] == "failed" and (failed[0][2] or "").startswith("interrupted")
    assert runs[-1][0] == "done"
    _converged(dsn, tmp_path, name)
