"""The ledger's staged ids, chunks and quarantine reads against the session's real server (rolled back)."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from vectorops.migration.ledger import chunks, runs


@pytest.fixture()
def collection() -> str:
    return f"unit-chunks-{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def attempt(conn: psycopg.Connection, collection: str) -> str:
    attempt_id = f"att-{uuid.uuid4().hex}"
    runs.insert_run(conn, attempt_id=attempt_id, run_id="run-1", collection=collection, target_schema="unit_chunks",
                    table_name="docs", shadow_table="docs__shadow", source_uri=None, fingerprint="fp",
                    owner_token=None)
    return attempt_id


def _stage(conn: psycopg.Connection, attempt: str, ids: list[str], positions: bool = False) -> None:
    with chunks.staged_id_copy(conn, with_positions=positions) as copy:
        for n, rid in enumerate(ids):
            copy.write_row((attempt, chunks.encode_id(rid), n * 10) if positions else (attempt,
                                                                                      chunks.encode_id(rid)))


ODD_IDS = ["plain", "ünïcødé-日本語", "emoji-🦀", "lone-\ud800-surrogate", "x" * 5000, " spaced ", "a\tb\nc",
           "back\\slash", "quote'\""]


@pytest.mark.parametrize("record_id", ODD_IDS)
def test_an_id_survives_encoding_without_a_nul(record_id: str) -> None:
    raw = chunks.encode_id(record_id)
    assert b"\x00" not in raw
    assert chunks.decode_id(raw) == record_id
    assert chunks.decode_id(memoryview(raw)) == record_id  # type: ignore[arg-type]


def test_staged_ids_come_back_exactly_in_byte_order(conn: psycopg.Connection, attempt: str) -> None:
    _stage(conn, attempt, ODD_IDS, positions=True)
    ids, positions = chunks.staged_ids(conn, attempt, b"", b"\xff" * 8)
    assert ids == sorted(ODD_IDS, key=chunks.encode_id)
    assert sorted(p for p in positions if p is not None) == [n * 10 for n in range(len(ODD_IDS))]
    assert dict(zip(ids, positions, strict=True))["emoji-🦀"] == 20


def test_a_range_holds_the_ids_between_its_bounds_inclusive(conn: psycopg.Connection, attempt: str) -> None:
    _stage(conn, attempt, ["a", "b", "c", "d"])
    assert chunks.staged_ids(conn, attempt, b"b", b"c") == (["b", "c"], [None, None])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_pages_cover_every_staged_id_once_in_order(conn: psycopg.Connection, attempt: str, size: int) -> None:
    ids = [f"id-{n:03d}" for n in range(7)] + ["日本"]
    _stage(conn, attempt, ids)
    pages = list(chunks.staged_id_pages(conn, attempt, size))
    assert all(0 < len(page) <= size for page, _ in pages)
    assert [rid for page, _ in pages for rid in page] == sorted(ids, key=chunks.encode_id)


def test_a_single_staged_id_carries_its_position(conn: psycopg.Connection, attempt: str) -> None:
    chunks.stage_id(conn, attempt, chunks.encode_id("one"), 42)
    chunks.stage_id(conn, attempt, chunks.encode_id("two"), None)
    assert list(chunks.staged_id_pages(conn, attempt, 10)) == [(["one", "two"], [42, None])]


def test_an_id_no_btree_entry_holds_is_refused(conn: psycopg.Connection, attempt: str) -> None:
    incompressible = os.urandom(16_000)  # random bytes do not compress
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        chunks.stage_id(conn, attempt, incompressible, None)


def test_chunks_split_the_staged_ids_into_ranges(conn: psycopg.Connection, attempt: str) -> None:
    _stage(conn, attempt, [f"r{n}" for n in range(5)])
    assert chunks.plan_chunks(conn, attempt, 2) == 3
    assert chunks.chunk_numbers(conn, attempt) == [0, 1, 2]
    ranges = [chunks.lock_chunk(conn, attempt, n) for n in range(3)]
    assert ranges == [chunks.ChunkRange("pending", b"r0", b"r1", 2), chunks.ChunkRange("pending", b"r2", b"r3", 2),
                      chunks.ChunkRange("pending", b"r4", b"r4", 1)]
    assert chunks.lock_chunk(conn, attempt, 3) is None
    assert chunks.plan_chunks(conn, attempt, 10) == 1  # a new plan replaces the old one
    assert chunks.chunk_numbers(conn, attempt) == [0]


def test_totals_sum_the_done_chunks_and_count_the_others(conn: psycopg.Connection, attempt: str) -> None:
    _stage(conn, attempt, [f"r{n}" for n in range(5)])
    chunks.plan_chunks(conn, attempt, 2)
    assert chunks.chunk_totals(conn, attempt) == chunks.ChunkTotals(3, 0, 0, 5, 0, 0, 0, 0)
    assert chunks.done_chunks(conn, attempt) == (0, 0)
    chunks.finish_chunk(conn, attempt, 0, loaded=1, quarantined=1, seconds=0.25, reembedded=1, kept=0, metadata=1,
                        gone=0)
    chunks.finish_chunk(conn, attempt, 2, loaded=0, quarantined=0, seconds=0.25, reembedded=0, kept=1, metadata=1,
                        gone=1)
    assert chunks.chunk_totals(conn, attempt) == chunks.ChunkTotals(1, 1, 1, 5, 1, 1, 2, 1)
    assert chunks.done_chunks(conn, attempt) == (2, 1)
    locked = chunks.lock_chunk(conn, attempt, 0)
    assert locked is not None and locked.status == "done"
    row = conn.execute("SELECT loaded_count, quarantined_count, load_seconds, gone_count FROM vectorops.migration_runs "
                       "WHERE attempt_id = %s", (attempt,)).fetchone()
    assert row == (1, 1, 0.5, 1)


def test_a_locked_chunk_blocks_another_session(conn: psycopg.Connection, attempt: str, dsn: str) -> None:
    _stage(conn, attempt, ["a"])
    chunks.plan_chunks(conn, attempt, 1)
    conn.commit()
    try:
        assert chunks.lock_chunk(conn, attempt, 0) is not None
        with psycopg.connect(dsn) as other:
            other.execute("SET lock_timeout = '100ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                chunks.lock_chunk(other, attempt, 0)
    finally:
        conn.rollback()
        conn.execute("DELETE FROM vectorops.migration_runs WHERE attempt_id = %s", (attempt,))
        chunks.clear_staged_ids(conn, attempt)
        conn.commit()


def _quarantine(conn: psycopg.Connection, collection: str, attempt: str, record_id: str) -> None:
    conn.execute("INSERT INTO vectorops.quarantine (collection, record_id, reason, payload, attempt_id) "
                 "VALUES (%s, %s, 'why', '\\x00', %s)", (collection, record_id, attempt))


def test_quarantined_ids_are_read_in_order_and_limited(conn: psycopg.Connection, collection: str,
                                                       attempt: str) -> None:
    for rid in ("c", "a", "b"):
        _quarantine(conn, collection, attempt, rid)
    assert chunks.quarantined_ids(conn, attempt) == ["a", "b", "c"]
    assert chunks.quarantined_ids(conn, attempt, limit=2) == ["a", "b"]
    chunks.clear_quarantine(conn, attempt)
    assert chunks.quarantined_ids(conn, attempt) == []


def test_clearing_staging_forgets_ids_quarantine_and_their_counts(conn: psycopg.Connection, collection: str,
                                                                  attempt: str) -> None:
    _stage(conn, attempt, ["a", "b"])
    _quarantine(conn, collection, attempt, "q")
    runs.record_unkeyable(conn, attempt, 1)
    chunks.clear_staging(conn, attempt)
    assert list(chunks.staged_id_pages(conn, attempt, 10)) == []
    assert chunks.quarantined_ids(conn, attempt) == []
    assert runs.unkeyable_count(conn, attempt) == 0
    row = conn.execute("SELECT quarantined_count FROM vectorops.migration_runs WHERE attempt_id = %s",
                       (attempt,)).fetchone()
    assert row == (0,)
