"""A migration of a collection another process keeps writing to (issue 20): it completes from a read point,
promotes "N changes behind", and every row the writer did not touch after the read point equals Chroma's get()."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from psycopg import sql

from tests import live_writer
from tests.support import add_records, chroma_client, chroma_records, record_line, registry_row
from vectorops.chroma import locate
from vectorops.chroma.files import changes
from vectorops.chroma.files import reader as files_reader
from vectorops.naming import table_name_for

ROWS = 3000
DIMS = 16
CHUNK_ROWS = 500
SYNC_THRESHOLD = 200  # Chroma rewrites its HNSW files every 200 writes, several times during the run
RATE = 40.0  # writes per second


def _store(path: Path, name: str) -> None:
    collection = chroma_client(path).create_collection(
        name, configuration={"hnsw": {"space": "cosine", "sync_threshold": SYNC_THRESHOLD, "batch_size": 100}})
    rng = np.random.default_rng(11)
    ids = [f"rec-{i:05d}" for i in range(ROWS)]
    add_records(collection, ids, rng.standard_normal((ROWS, DIMS), dtype=np.float32),
                documents=[f"document {i}" for i in range(ROWS)],
                metadatas=[{"i": i, "even": i % 2 == 0, "x": i / 7} for i in range(ROWS)])


def _table_lines(dsn: str, schema: str, table: str) -> dict[str, bytes]:
    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        rows = conn.execute(sql.SQL("SELECT id, embedding, document, metadata, uri FROM {}").format(
            sql.Identifier(schema, table))).fetchall()
    return {r[0]: record_line(r[0], r[1], r[2], r[3], r[4]) for r in rows}


@pytest.mark.slow
def test_a_collection_written_during_its_migration_is_promoted_behind_and_exact_up_to_its_read_point(
        settings: Any, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import migrate_in_process
    from vectorops.quality import gate

    # files: every read goes through the files reader (a write Chroma logged but has not applied yet is waited
    # out, never read through a private copy); only the gate's cross-check opens Chroma's client, on a copy
    monkeypatch.setenv("VECTOROPS_CHROMA_READER", "files")
    monkeypatch.setenv("VECTOROPS_CHUNK_ROWS", str(CHUNK_ROWS))
    locate.forget_files()
    store, name, schema = tmp_path / "store", "busy", "live_test"
    _store(store, name)
    report = tmp_path / "writer.json"
    writer = live_writer.start(store, name, seed=5, rate=RATE, report=report)
    try:
        time.sleep(2.0)  # the writer is under way before staging
        started = time.monotonic()
        summaries = migrate_in_process(dataclasses.replace(settings, chunk_rows=CHUNK_ROWS),
                                       {"chroma_path": str(store), "target_schema": schema, "collections": [name]},
                                       "live-run-1")
        seconds = time.monotonic() - started
    finally:
        counts = live_writer.stop(writer, report)
    writes = sum(counts.values())
    [summary] = summaries
    print(f"\nlive migration: {summary['read']} staged in {seconds:.1f}s, {writes} writes by the writer {counts}, "
          f"{summary['gone']} gone, {summary['written_after_read_point']} written after the read point, "
          f"{summary['changes_behind']} changes behind")
    assert summary["validation"] == "passed"
    assert len(range(0, summary["read"], CHUNK_ROWS)) >= 5
    assert min(counts.values()) > 0, counts  # every kind of write happened
    registry = registry_row(dsn, name)
    read_point = registry["read_point"]
    assert read_point is not None and registry["read_point_at"] is not None
    assert registry["sync_state"] == "migrated" and registry["changes_behind"] == summary["changes_behind"]
    # each write changes at most one record, and the writer kept writing from before staging to after finalize
    assert 0 < summary["changes_behind"] <= writes
    assert summary["status"] == f"promoted, {summary['changes_behind']} changes behind"
    assert gate.validate_live(settings, name).success

    files = files_reader.open_collection(store, name, "cosine")
    with changes.id_seqs(files) as listing:
        seqs = {record_id: seq for page in listing.pages for record_id, seq in page}
    table = _table_lines(dsn, schema, table_name_for(name))
    chroma = {r[0]: record_line(*r) for r in chroma_records(store, name)}
    untouched = {record_id for record_id, seq in seqs.items() if seq <= read_point}
    assert untouched, "the writer touched every record"
    # every record nobody wrote after the read point is in the table, exactly as Chroma's get() returns it
    assert untouched <= set(table)
    assert [i for i in sorted(untouched) if table[i] != chroma[i]] == []
    # and the table holds nothing the source never had: every other row is a record written or deleted since
    others = set(table) - untouched
    assert all(i not in seqs or seqs[i] > read_point for i in others)
