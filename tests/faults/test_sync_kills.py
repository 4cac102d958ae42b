"""SIGKILL `vectorops sync` at random points (inside a batch, after a batch commits, or a random moment from
outside) while the source keeps changing between rounds; every rerun must converge on Chroma exactly.

A sync batch commits its rows with the read point it reaches, so a kill loses nothing (the rerun starts from
the last committed read point) and duplicates nothing (re-applying a change is an upsert on the primary key).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest, registry_row
from vectorops.chroma import locate
from vectorops.chroma.files import changes
from vectorops.chroma.files import reader as files_reader
from vectorops.naming import table_name_for

NAME, SCHEMA, DIMS, ROWS, BATCH = "sync-kills", "sync_kills", 16, 3000, 40
POINTS = ("sync_apply", "sync_batch", "random")


def _sync(store: Path, dsn: str, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "vectorops.cli", "sync", "--chroma-path", str(store), "--collection", NAME,
               "--schema", SCHEMA, "--dsn", dsn, "--batch-size", str(BATCH)]
    return subprocess.Popen(command, env={**os.environ, **extra}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _change(collection: Any, rng: np.random.Generator, round_no: int, live: list[str]) -> None:
    """About 300 writes: adds, updates of each field, upserts (new and existing) and deletes."""
    new = [f"k{round_no}-{i}" for i in range(80)]
    collection.add(ids=new, embeddings=rng.standard_normal((80, DIMS), dtype=np.float32),
                   documents=[f"added in round {round_no}" for _ in new], metadatas=[{"round": round_no}] * 80)
    picked = [live[i] for i in rng.choice(len(live), 160, replace=False)]
    collection.update(ids=picked[:60], metadatas=[{"round": round_no, "updated": True}] * 60)
    collection.update(ids=picked[60:100], embeddings=rng.standard_normal((40, DIMS), dtype=np.float32),
                      documents=[f"rewritten {round_no}"] * 40)
    collection.upsert(ids=picked[100:120] + [f"u{round_no}-{i}" for i in range(20)],
                      embeddings=rng.standard_normal((40, DIMS), dtype=np.float32))
    collection.delete(ids=picked[120:160])
    gone = set(picked[120:160])
    live[:] = [i for i in live if i not in gone] + new + [f"u{round_no}-{i}" for i in range(20)]


def _converged(dsn: str, store: Path) -> None:
    assert pg_digest(dsn, SCHEMA, table_name_for(NAME)) == chroma_digest(store, NAME)
    files = files_reader.open_collection(store, NAME, "l2")
    row = registry_row(dsn, NAME)
    assert row["read_point"] == changes.read_point(files)
    with psycopg.connect(dsn) as conn:
        count = conn.execute(f'SELECT count(*) FROM {SCHEMA}."{table_name_for(NAME)}"').fetchone()  # noqa: S608
    assert count is not None and row["loaded_count"] == count[0] == files.count
    assert row["quarantined_count"] == 0


@pytest.mark.slow
def test_killed_syncs_rerun_to_exact_parity(settings: Any, dsn: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    collection = chroma_client(store).get_or_create_collection(
        NAME, metadata={"hnsw:space": "l2", "hnsw:sync_threshold": 200, "hnsw:batch_size": 100},
        embedding_function=None)
    rng = np.random.default_rng(20)
    live = [f"r-{i:05d}" for i in range(ROWS)]
    add_records(collection, live, rng.standard_normal((ROWS, DIMS), dtype=np.float32),
                documents=[f"doc {i}" for i in range(ROWS)], metadatas=[{"i": i} for i in range(ROWS)])
    locate.forget_files()
    migrate_in_process(settings, {"chroma_path": str(store), "target_schema": SCHEMA, "collections": [NAME]},
                       "sync-kills-migration")
    started = time.monotonic()
    first = _sync(store, dsn, {})
    assert first.wait(300) == 0, first.stdout.read() if first.stdout else ""
    clean_s = time.monotonic() - started  # a random kill lands within a clean run's time
    _converged(dsn, store)

    chooser = random.Random(int(os.environ.get("VECTOROPS_KILL_SEED", "7")))
    report = []
    for round_no, point in enumerate(POINTS * 2):
        _change(collection, rng, round_no, live)
        batches = 300 // BATCH
        if point == "random":
            proc = _sync(store, dsn, {})
            delay = chooser.uniform(0.2, 0.9) * clean_s
            time.sleep(delay)
            alive = proc.poll() is None
            if alive:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            spec = f"+{delay:.1f}s ({'killed' if alive else 'already done'})"
        else:
            spec = f"{point}:{chooser.randint(1, batches)}"
            proc = _sync(store, dsn, {"VECTOROPS_FAILPOINT": spec})
            proc.wait(300)
            output = proc.stdout.read().decode() if proc.stdout else ""
            assert f"failpoint {spec} hit" in output, output
        started = time.monotonic()
        rerun = _sync(store, dsn, {})
        output = rerun.stdout.read().decode() if rerun.stdout else ""
        assert rerun.wait(300) == 0, output
        clean_s = time.monotonic() - started
        assert "in parity" in output, output
        _converged(dsn, store)
        report.append(f"round {round_no}: kill at {spec}; rerun: {output.strip().splitlines()[-1]}")
    with psycopg.connect(dsn) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM vectorops.sync_runs WHERE collection = %s "
                                     "GROUP BY status", (NAME,)).fetchall())
    assert statuses.get("running", 0) == 0, statuses  # each killed run is marked interrupted by the next
    print("\n".join(report))
