"""The ledger's runs and claims against the session's real server (each test's writes are rolled back)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from vectorops.migration.ledger import chunks, runs

SCHEMA = "unit_ledger"


@pytest.fixture()
def collection() -> str:
    return f"unit-ledger-{uuid.uuid4().hex[:10]}"


def _attempt(conn: psycopg.Connection, collection: str, *, run_id: str = "run-1", fingerprint: str = "fp-1",
             table_name: str = "docs") -> str:
    attempt_id = f"att-{uuid.uuid4().hex}"
    runs.insert_run(conn, attempt_id=attempt_id, run_id=run_id, collection=collection, target_schema=SCHEMA,
                    table_name=table_name, shadow_table=f"{table_name}__shadow", source_uri="chroma:///unit",
                    fingerprint=fingerprint, owner_token=None)
    return attempt_id


def _column(conn: psycopg.Connection, attempt_id: str, column: str) -> object:
    row = conn.execute(f"SELECT {column} FROM vectorops.migration_runs WHERE attempt_id = %s",  # noqa: S608
                       (attempt_id,)).fetchone()
    assert row is not None
    return row[0]


def _plan(conn: psycopg.Connection, attempt_id: str, chunk_count: int, source_count: int) -> None:
    runs.mark_planned(conn, attempt_id, chunks=chunk_count, source_count=source_count, dimensions=3,
                      distance="cosine", embedding_mode="keep", embedding_model=None, reader="files")


def test_a_new_attempt_scans_and_planning_makes_it_load(conn: psycopg.Connection, collection: str) -> None:
    attempt = _attempt(conn, collection)
    assert _column(conn, attempt, "status") == "scanning"
    _plan(conn, attempt, 2, 5)
    assert [_column(conn, attempt, c) for c in ("status", "chunks", "source_count", "dimensions", "reader")] == [
        "loading", 2, 5, 3, "files"]


def test_the_whole_life_of_an_attempt_up_to_promotion(conn: psycopg.Connection, collection: str) -> None:
    attempt = _attempt(conn, collection)
    runs.set_claim(conn, collection, attempt, "run-1")
    with chunks.staged_id_copy(conn, with_positions=False) as copy:
        for rid in ("a", "b", "c"):
            copy.write_row((attempt, chunks.encode_id(rid)))
    planned = chunks.plan_chunks(conn, attempt, 2)
    _plan(conn, attempt, planned, 3)
    for chunk_no in chunks.chunk_numbers(conn, attempt):
        locked = chunks.lock_chunk(conn, attempt, chunk_no)
        assert locked is not None and locked.status == "pending"
        chunks.finish_chunk(conn, attempt, chunk_no, loaded=locked.row_count, quarantined=0, seconds=0.5,
                            reembedded=0, kept=locked.row_count, metadata=0, gone=0)
    assert chunks.done_chunks(conn, attempt) == (2, 3)
    assert _column(conn, attempt, "loaded_count") == 3
    assert _column(conn, attempt, "load_seconds") == 1.0
    runs.mark_promoted(conn, collection, attempt, 123.0, 4)
    assert _column(conn, attempt, "status") == "promoted"
    assert _column(conn, attempt, "changes_behind") == 4
    assert _column(conn, attempt, "rows_per_s") == 123.0
    assert _column(conn, attempt, "finished_at") is not None
    assert runs.claim_holder(conn, collection) is None
    assert list(chunks.staged_id_pages(conn, attempt, 10)) == []


def test_a_promoted_attempt_does_not_become_failed(conn: psycopg.Connection, collection: str) -> None:
    attempt = _attempt(conn, collection)
    runs.mark_promoted(conn, collection, attempt, None)
    runs.mark_failed(conn, attempt, "late error")
    assert _column(conn, attempt, "status") == "promoted"
    assert _column(conn, attempt, "error") is None


def test_errors_are_kept_up_to_4000_characters(conn: psycopg.Connection, collection: str) -> None:
    failed, rejected = _attempt(conn, collection), _attempt(conn, collection)
    runs.mark_failed(conn, failed, "x" * 5000)
    runs.mark_rejected(conn, rejected, "parity failed")
    assert _column(conn, failed, "status") == "failed"
    assert _column(conn, failed, "error") == "x" * 4000
    assert (_column(conn, rejected, "status"), _column(conn, rejected, "error")) == ("rejected", "parity failed")


def test_resuming_a_failed_attempt_goes_back_to_where_its_ledger_was(conn: psycopg.Connection,
                                                                    collection: str) -> None:
    unplanned, planned = _attempt(conn, collection), _attempt(conn, collection)
    _plan(conn, planned, 1, 1)
    for attempt in (unplanned, planned):
        runs.mark_failed(conn, attempt, "boom")
    assert runs.resume_own_attempt(conn, unplanned) == ("docs__shadow", "scanning")
    assert runs.resume_own_attempt(conn, planned) == ("docs__shadow", "loading")
    assert _column(conn, planned, "error") is None


def test_the_resumable_attempt_is_the_latest_unfinished_one_of_the_same_source_and_target(
        conn: psycopg.Connection, collection: str) -> None:
    assert runs.resumable_attempt(conn, collection=collection, fingerprint="fp-1", target_schema=SCHEMA,
                                  table_name="docs") is None
    attempt = _attempt(conn, collection, run_id="run-a")
    _attempt(conn, collection, fingerprint="fp-other")
    _attempt(conn, collection, table_name="elsewhere")
    found = runs.resumable_attempt(conn, collection=collection, fingerprint="fp-1", target_schema=SCHEMA,
                                   table_name="docs")
    assert found == (attempt, "run-a", "docs__shadow", "scanning")
    runs.mark_rejected(conn, attempt, "never resumed")
    assert runs.resumable_attempt(conn, collection=collection, fingerprint="fp-1", target_schema=SCHEMA,
                                  table_name="docs") is None


def test_adopting_an_attempt_gives_it_to_the_new_run(conn: psycopg.Connection, collection: str) -> None:
    attempt = _attempt(conn, collection, run_id="run-old")
    assert runs.adopt_attempt(conn, attempt, "run-new", "token-1") == "scanning"
    assert (_column(conn, attempt, "run_id"), _column(conn, attempt, "owner_token")) == ("run-new", "token-1")
    assert runs.adopt_attempt(conn, "att-no-such", "run-new", None) is None


def test_superseding_keeps_one_attempt_and_finished_ones(conn: psycopg.Connection, collection: str) -> None:
    kept, old, done = _attempt(conn, collection), _attempt(conn, collection), _attempt(conn, collection)
    runs.mark_promoted(conn, collection, done, None)
    assert runs.supersede_attempts(conn, collection, kept) == [(old, SCHEMA, "docs__shadow")]
    assert [_column(conn, a, "status") for a in (kept, old, done)] == ["scanning", "superseded", "promoted"]
    assert {a for a, _, _ in runs.supersede_attempts(conn, collection, None)} == {kept}


def test_forgetting_an_attempt_drops_its_ids_chunks_and_quarantine(conn: psycopg.Connection,
                                                                  collection: str) -> None:
    attempt = _attempt(conn, collection)
    chunks.stage_id(conn, attempt, chunks.encode_id("a"), None)
    chunks.plan_chunks(conn, attempt, 10)
    conn.execute("INSERT INTO vectorops.quarantine (collection, record_id, reason, payload, attempt_id) "
                 "VALUES (%s, 'q', 'why', '\\x00', %s)", (collection, attempt))
    runs.forget_attempt(conn, attempt)
    assert chunks.chunk_numbers(conn, attempt) == []
    assert list(chunks.staged_id_pages(conn, attempt, 10)) == []
    assert chunks.quarantined_ids(conn, attempt) == []


def test_timings_and_stamps_are_kept(conn: psycopg.Connection, collection: str) -> None:
    attempt = _attempt(conn, collection)
    assert runs.working_seconds(conn, attempt) == (0.0, 0.0)
    assert runs.working_seconds(conn, "att-no-such") == (0.0, 0.0)
    runs.add_prepare_seconds(conn, attempt, 1.5)
    runs.add_prepare_seconds(conn, attempt, 2.0)
    assert runs.working_seconds(conn, attempt) == (3.5, 0.0)
    runs.set_validate_seconds(conn, attempt, 4.0)
    runs.set_finalize_seconds(conn, attempt, 5.0, 6.0)
    assert [_column(conn, attempt, c) for c in ("validate_seconds", "index_seconds", "finalize_seconds")] == [
        4.0, 5.0, 6.0]
    assert runs.source_stamp(conn, attempt) is None
    runs.set_source_stamp(conn, attempt, "stamp-1")
    assert runs.source_stamp(conn, attempt) == "stamp-1"
    assert runs.source_stamp(conn, "att-no-such") is None


def test_unkeyable_ids_count_as_quarantined_too(conn: psycopg.Connection, collection: str) -> None:
    attempt = _attempt(conn, collection)
    assert runs.unkeyable_count(conn, attempt) == 0
    conn.execute("UPDATE vectorops.migration_runs SET quarantined_count = 4 WHERE attempt_id = %s", (attempt,))
    runs.record_unkeyable(conn, attempt, 3)
    assert runs.unkeyable_count(conn, attempt) == 3
    assert _column(conn, attempt, "quarantined_count") == 7


def test_run_rows_are_one_per_collection_of_the_run(conn: psycopg.Connection, collection: str) -> None:
    run_id = f"run-{uuid.uuid4().hex}"
    attempt = _attempt(conn, collection, run_id=run_id)
    _plan(conn, attempt, 1, 7)
    rows = runs.run_rows(conn, run_id)
    assert len(rows) == 1
    assert rows[0][:3] == (collection, "loading", 7)
    assert rows[0][9:] == ("docs", SCHEMA, "files", None, None)  # changes behind and read point: not yet
    assert runs.run_rows(conn, f"run-{uuid.uuid4().hex}") == []


def test_the_shadow_check_is_remembered_for_this_server_start(conn: psycopg.Connection, collection: str) -> None:
    attempt = _attempt(conn, collection)
    assert runs.shadow_checked(conn, "att-no-such") is None
    assert runs.shadow_checked(conn, attempt) is False
    runs.mark_shadow_checked(conn, attempt)
    assert runs.shadow_checked(conn, attempt, lock=True) is True


def test_resetting_loads_makes_every_chunk_pending_again(conn: psycopg.Connection, collection: str) -> None:
    attempt = _attempt(conn, collection)
    chunks.stage_id(conn, attempt, chunks.encode_id("a"), None)
    chunks.plan_chunks(conn, attempt, 10)
    runs.add_gone(conn, attempt, 2)  # found gone at staging: stays counted
    chunks.finish_chunk(conn, attempt, 0, loaded=1, quarantined=0, seconds=2.0, reembedded=0, kept=1, metadata=0,
                        gone=3)
    assert _column(conn, attempt, "gone_count") == 5
    runs.reset_loads(conn, attempt)
    locked = chunks.lock_chunk(conn, attempt, 0)
    assert locked is not None and locked.status == "pending"
    assert [_column(conn, attempt, c) for c in ("loaded_count", "quarantined_count", "load_seconds", "gone_count")
            ] == [0, 0, 0.0, 2]
    assert chunks.chunk_totals(conn, attempt).gone == 0


def test_the_read_point_is_recorded_with_its_time_and_the_files_stamp(conn: psycopg.Connection,
                                                                      collection: str) -> None:
    from datetime import UTC, datetime

    attempt = _attempt(conn, collection)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    runs.set_read_point(conn, attempt, 315, at, "stamp-1")
    point = runs.read_point_of(conn, attempt)
    assert (point.read_point, point.at, point.stamp, point.gone) == (315, at, "stamp-1", 0)
    runs.set_read_point(conn, attempt, None, at, None)  # staged through the API: no sequence numbers
    assert runs.read_point_of(conn, attempt).read_point is None


def test_a_claim_moves_to_the_attempt_that_takes_it_and_is_released_only_by_its_holder(
        conn: psycopg.Connection, collection: str) -> None:
    first, second = _attempt(conn, collection, run_id="run-1"), _attempt(conn, collection, run_id="run-2")
    assert runs.claim_holder(conn, collection) is None
    runs.set_claim(conn, collection, first, "run-1")
    assert runs.claim_holder(conn, collection) == (first, "run-1")
    runs.set_claim(conn, collection, second, "run-2")
    runs.release_claim(conn, collection, first)
    assert runs.claim_holder(conn, collection) == (second, "run-2")
    runs.release_claim(conn, collection, second)
    assert runs.claim_holder(conn, collection) is None


def test_the_current_claim_says_whether_it_is_stale_and_for_the_same_target(conn: psycopg.Connection,
                                                                           collection: str) -> None:
    attempt = _attempt(conn, collection)
    assert runs.current_claim(conn, collection=collection, ttl_s=3600, fingerprint="fp-1", target_schema=SCHEMA,
                              table_name="docs") is None
    runs.set_claim(conn, collection, attempt, "run-1")
    fresh = runs.current_claim(conn, collection=collection, ttl_s=3600, fingerprint="fp-1", target_schema=SCHEMA,
                               table_name="docs")
    assert fresh == (attempt, "run-1", None, False, True)
    conn.execute("UPDATE vectorops.migration_runs SET heartbeat_at = now() - interval '1 hour' WHERE attempt_id = %s",
                 (attempt,))
    stale = runs.current_claim(conn, collection=collection, ttl_s=60, fingerprint="fp-2", target_schema=SCHEMA,
                               table_name="docs")
    assert stale == (attempt, "run-1", None, True, False)
