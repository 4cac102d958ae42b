"""Issue 20's live migration end to end: a writer process keeps adding, updating, upserting and deleting records
of a 100,000-row collection during its migration and two syncs (one of them SIGKILLed at a random point and
rerun); after a final sync with the writer stopped, the live table equals Chroma's get() exactly, and a cutover
verifies it."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests import live_writer
from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest, registry_row
from vectorops.chroma import locate
from vectorops.chroma.files import changes
from vectorops.chroma.files import reader as files_reader
from vectorops.naming import table_name_for

ROWS, DIMS, NAME, SCHEMA = 100_000, 16, "live-100k", "live_sync"
RATE = 40.0  # writes per second asked of the writer (Chroma's own latency makes it 20-30)


def _sync(store: Path, dsn: str, extra: dict[str, str] | None = None) -> tuple[int, str]:
    command = [sys.executable, "-m", "vectorops.cli", "sync", "--chroma-path", str(store), "--collection", NAME,
               "--schema", SCHEMA, "--dsn", dsn, "--batch-size", "200"]
    done = subprocess.run(command, env={**os.environ, **(extra or {})}, capture_output=True, text=True, timeout=600,
                          check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
def test_a_live_collection_migrates_syncs_through_a_kill_and_ends_exactly_equal(
        settings: Any, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_CHROMA_READER", "files")
    store = tmp_path / "store"
    # a small m/ef_construction keeps both HNSW builds (Chroma's, and the migration's in PostgreSQL) quick, as in
    # tests/faults/kill_source.py: nothing here depends on the graph's quality, and the 100,000 rows stay
    collection = chroma_client(store).create_collection(NAME, configuration={"hnsw": {
        "space": "cosine", "sync_threshold": 500, "batch_size": 100, "max_neighbors": 8, "ef_construction": 48}})
    rng = np.random.default_rng(1)
    add_records(collection, [f"rec-{i:06d}" for i in range(ROWS)], rng.standard_normal((ROWS, DIMS), dtype=np.float32),
                documents=[f"document {i}" for i in range(ROWS)], metadatas=[{"i": i} for i in range(ROWS)])
    locate.forget_files()
    report = tmp_path / "writer.json"
    writer = live_writer.start(store, NAME, seed=9, rate=RATE, report=report)
    log = []
    try:
        time.sleep(2.0)
        [summary] = migrate_in_process(dataclasses.replace(settings, chunk_rows=25_000),
                                       {"chroma_path": str(store), "target_schema": SCHEMA, "collections": [NAME]},
                                       "live-100k-run")
        assert summary["validation"] == "passed", summary
        log.append(f"migration: {summary['status']}")
        code, output = _sync(store, dsn)  # the first sync, under the writer
        assert code in (0, 1), output  # 1: not in parity as of its read point because of a write it met
        log.append(f"sync 1: {output.strip().splitlines()[-1]}")
        spec = f"{random.Random(3).choice(['sync_apply', 'sync_batch'])}:1"
        code, output = _sync(store, dsn, {"VECTOROPS_FAILPOINT": spec})  # the second, killed
        assert f"failpoint {spec} hit" in output or "added 0, updated 0, deleted 0" in output, output
        log.append(f"sync 2 killed at {spec}")
        code, output = _sync(store, dsn)  # its rerun, still under the writer
        assert code in (0, 1), output
        log.append(f"sync 2 rerun: {output.strip().splitlines()[-1]}")
    finally:
        counts = live_writer.stop(writer, report)
    log.append(f"writer: {counts}")
    code, output = _sync(store, dsn)  # the final sync, the writer stopped
    log.append(f"final sync: {output.strip().splitlines()[-1]}")
    print("\n" + "\n".join(log))
    assert code == 0 and "in parity" in output and "lag 0 record(s)" in output, output
    assert min(counts.values()) > 0, counts  # adds, updates, upserts and deletes all happened
    files = files_reader.open_collection(store, NAME, "cosine")
    row = registry_row(dsn, NAME)
    assert row["read_point"] == changes.read_point(files) and row["sync_state"] == "syncing"
    with psycopg.connect(dsn) as conn:
        quarantined = {r[0] for r in conn.execute(
            "SELECT record_id FROM vectorops.quarantine WHERE collection = %s AND cleared_at IS NULL", (NAME,))}
    assert row["loaded_count"] + row["quarantined_count"] == files.count
    # ids, float32 vectors, documents and metadata: exactly what Chroma's get() returns. This process's client still
    # holds the index it loaded before the writer process changed the store: a new client reads it afresh.
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    assert pg_digest(dsn, SCHEMA, table_name_for(NAME)) == chroma_digest(store, NAME, exclude=quarantined)

    from vectorops.cli.main import main

    assert main(["cutover", "--chroma-path", str(store), "--collection", NAME, "--schema", SCHEMA,
                 "--dsn", dsn]) == 0
    assert registry_row(dsn, NAME)["sync_state"] == "cut over"
