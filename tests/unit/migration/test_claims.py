"""The claims state machine: who may write a collection, against the session's real server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from vectorops.db import ownership
from vectorops.errors import CollectionBusy
from vectorops.migration import claims
from vectorops.naming import shadow_name

SCHEMA = "unit_claims"
FRESH, STALE = 3600, 0  # ttl_s: a heartbeat of this test is never older than an hour, always older than 0 s


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection


@pytest.fixture()
def other(dsn: str) -> Iterator[psycopg.Connection]:
    """A second session, as another run's worker would have."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection


@pytest.fixture()
def collection() -> str:
    return f"unit-claims-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _airflow_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as an Airflow run does: no CLI owner token."""
    monkeypatch.delenv("VECTOROPS_OWNER_TOKEN", raising=False)


def _claim(conn: psycopg.Connection, collection: str, run_id: str, *, fingerprint: str = "fp-1",
           ttl_s: int = FRESH) -> claims.Attempt:
    return claims.claim(conn, collection=collection, run_id=run_id, fingerprint=fingerprint, target_schema=SCHEMA,
                        table_name="docs", source_uri="chroma:///unit", ttl_s=ttl_s)


def _run(conn: psycopg.Connection, attempt_id: str) -> dict[str, Any]:
    cursor = conn.execute("""SELECT run_id, status, owner_token, shadow_table, finished_at, error
                             FROM vectorops.migration_runs WHERE attempt_id = %s""", (attempt_id,))
    row = cursor.fetchone()
    assert row is not None, attempt_id
    return dict(zip([c.name for c in cursor.description or []], row, strict=True))


def _claim_row(conn: psycopg.Connection, collection: str) -> tuple[str, str] | None:
    row = conn.execute("SELECT attempt_id, run_id FROM vectorops.collection_claims WHERE collection = %s",
                       (collection,)).fetchone()
    return None if row is None else (row[0], row[1])


def _make_shadow(conn: psycopg.Connection, attempt: claims.Attempt) -> None:
    """The attempt's shadow table, created and recorded as the loader does."""
    ownership.ensure_schema(conn, SCHEMA, "unit tests")
    with conn.transaction():
        conn.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY)").format(
            sql.Identifier(SCHEMA, attempt.shadow_table)))
        ownership.record_table(conn, SCHEMA, attempt.shadow_table, f"attempt {attempt.attempt_id}")


def _exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                       (sql.Identifier(SCHEMA, table).as_string(conn),)).fetchone()
    return bool(row and row[0])


def _set(conn: psycopg.Connection, attempt_id: str, **columns: Any) -> None:
    assignments = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in columns)
    conn.execute(sql.SQL("UPDATE vectorops.migration_runs SET {} WHERE attempt_id = %(attempt)s").format(assignments),
                 {**columns, "attempt": attempt_id})


def test_a_free_collection_gets_a_new_attempt(conn: psycopg.Connection, collection: str) -> None:
    attempt = _claim(conn, collection, "run-a")
    assert attempt.status == "scanning" and attempt.adopted_from_run is None
    assert attempt.shadow_table == shadow_name("docs", attempt.attempt_id)
    run = _run(conn, attempt.attempt_id)
    assert (run["run_id"], run["status"], run["owner_token"]) == ("run-a", "scanning", None)
    assert _claim_row(conn, collection) == (attempt.attempt_id, "run-a")
    assert not conn.info.transaction_status  # committed: nothing left open
    claims.verify_owner(conn, collection, attempt.attempt_id)


def test_the_same_run_claiming_again_gets_its_own_attempt(conn: psycopg.Connection, collection: str) -> None:
    first = _claim(conn, collection, "run-a")
    assert _claim(conn, collection, "run-a") == first


@pytest.mark.parametrize(("chunks", "status"), [(None, "scanning"), (4, "loading")])
def test_a_retry_of_a_failed_attempt_goes_back_to_where_its_ledger_was(
        conn: psycopg.Connection, collection: str, chunks: int | None, status: str) -> None:
    first = _claim(conn, collection, "run-a")
    _set(conn, first.attempt_id, status="failed", error="boom", chunks=chunks)
    again = _claim(conn, collection, "run-a")
    assert (again.attempt_id, again.status) == (first.attempt_id, status)
    assert _run(conn, first.attempt_id)["error"] is None


def test_a_second_run_is_refused_while_the_first_is_fresh(conn: psycopg.Connection, collection: str) -> None:
    first = _claim(conn, collection, "run-a")
    with pytest.raises(CollectionBusy, match=f"run run-a \\(attempt {first.attempt_id}\\)"):
        _claim(conn, collection, "run-b")
    assert _claim_row(conn, collection) == (first.attempt_id, "run-a")
    assert _run(conn, first.attempt_id)["status"] == "scanning"


def test_a_second_run_is_refused_while_someone_writes_even_when_stale(
        conn: psycopg.Connection, other: psycopg.Connection, collection: str) -> None:
    first = _claim(conn, collection, "run-a")
    with claims.holding_live_lock(other, collection):
        with pytest.raises(CollectionBusy, match="run-a"):
            _claim(conn, collection, "run-b", ttl_s=STALE)
    # the writer left: the stale claim is taken over
    taken = _claim(conn, collection, "run-b", ttl_s=STALE)
    assert _claim_row(conn, collection) == (taken.attempt_id, "run-b")
    assert first.attempt_id != taken.attempt_id  # no shadow table yet: nothing to adopt


def test_a_stale_attempt_with_its_shadow_is_adopted(conn: psycopg.Connection, collection: str) -> None:
    first = _claim(conn, collection, "run-a")
    _make_shadow(conn, first)
    _set(conn, first.attempt_id, chunks=3)
    adopted = _claim(conn, collection, "run-b", ttl_s=STALE)
    assert adopted == claims.Attempt(first.attempt_id, first.shadow_table, "loading", "run-a")
    assert _run(conn, first.attempt_id)["run_id"] == "run-b"
    assert _claim_row(conn, collection) == (first.attempt_id, "run-b")
    assert _exists(conn, first.shadow_table)
    claims.verify_owner(conn, collection, first.attempt_id)


def test_a_stale_attempt_of_another_source_is_superseded(conn: psycopg.Connection, collection: str) -> None:
    first = _claim(conn, collection, "run-a")
    _make_shadow(conn, first)
    conn.execute("INSERT INTO vectorops.migration_source_ids (attempt_id, id) VALUES (%s, 'x')", (first.attempt_id,))
    conn.execute("""INSERT INTO vectorops.quarantine (collection, record_id, reason, payload, attempt_id)
                    VALUES (%s, 'x', 'test', '\\x7b7d', %s)""", (collection, first.attempt_id))
    second = _claim(conn, collection, "run-b", fingerprint="fp-2", ttl_s=STALE)
    assert second.attempt_id != first.attempt_id and second.adopted_from_run is None
    old = _run(conn, first.attempt_id)
    assert old["status"] == "superseded" and old["finished_at"] is not None
    assert not _exists(conn, first.shadow_table)
    assert not ownership.owns_table(conn, SCHEMA, first.shadow_table)
    for table in ("migration_source_ids", "quarantine"):
        count = conn.execute(sql.SQL("SELECT count(*) FROM vectorops.{} WHERE attempt_id = %s").format(
            sql.Identifier(table)), (first.attempt_id,)).fetchone()
        assert count == (0,), table
    with pytest.raises(CollectionBusy, match=f"now claimed by run run-b \\(attempt {second.attempt_id}\\)"):
        claims.verify_owner(conn, collection, first.attempt_id)


def test_a_superseded_shadow_vectorops_did_not_create_is_left_alone(conn: psycopg.Connection,
                                                                   collection: str) -> None:
    first = _claim(conn, collection, "run-a")
    ownership.ensure_schema(conn, SCHEMA, "unit tests")
    conn.execute(sql.SQL("CREATE TABLE {} (id text)").format(sql.Identifier(SCHEMA, first.shadow_table)))
    try:
        _claim(conn, collection, "run-b", fingerprint="fp-2", ttl_s=STALE)
        assert _run(conn, first.attempt_id)["status"] == "superseded"
        assert _exists(conn, first.shadow_table)
    finally:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCHEMA, first.shadow_table)))


def test_after_release_the_next_run_starts_afresh(conn: psycopg.Connection, collection: str) -> None:
    first = _claim(conn, collection, "run-a")
    _make_shadow(conn, first)
    # what promotion does when it finishes: the attempt is promoted and its claim released
    _set(conn, first.attempt_id, status="promoted")
    conn.execute("DELETE FROM vectorops.collection_claims WHERE collection = %s", (collection,))
    with pytest.raises(CollectionBusy, match="now claimed by nobody"):
        claims.verify_owner(conn, collection, first.attempt_id)
    second = _claim(conn, collection, "run-b")  # fresh ttl: no claim stands in the way
    assert second.attempt_id != first.attempt_id and second.adopted_from_run is None
    assert _run(conn, first.attempt_id)["status"] == "promoted"  # a promoted attempt is never superseded


def test_a_cli_claim_dies_with_its_owner_token(dsn: str, conn: psycopg.Connection, collection: str) -> None:
    with claims.owner_token_held(dsn) as token:
        assert claims.owner_token() == token == os.environ["VECTOROPS_OWNER_TOKEN"]
        first = _claim(conn, collection, "cli-run")
        assert _run(conn, first.attempt_id)["owner_token"] == token
        with pytest.raises(CollectionBusy):
            _claim(conn, collection, "run-b", ttl_s=STALE)  # the token is held: alive whatever the heartbeat
    assert claims.owner_token() is None
    taken = _claim(conn, collection, "run-b", ttl_s=FRESH)  # the CLI is gone: stale at once, heartbeat or not
    assert _claim_row(conn, collection) == (taken.attempt_id, "run-b")


def test_owner_token_held_restores_the_previous_token(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_OWNER_TOKEN", "outer")
    with claims.owner_token_held(dsn) as token:
        assert token != "outer" and claims.owner_token() == token
    assert claims.owner_token() == "outer"


def test_the_live_lock_is_shared_among_writers_and_released(conn: psycopg.Connection, other: psycopg.Connection,
                                                            collection: str) -> None:
    key = conn.execute("SELECT hashtextextended('vectorops:live:' || %s, 0)", (collection,)).fetchone()
    assert key is not None
    with claims.holding_live_lock(conn, collection), claims.holding_live_lock(other, collection):
        held = conn.execute("""SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock'
                               AND ((classid::bigint << 32) | objid::bigint) = %s""", (key[0],)).fetchone()
        assert held == (2,)
        setting = conn.execute("SELECT setting::int FROM pg_settings "
                               "WHERE name = 'client_connection_check_interval'").fetchone()
        assert setting == (claims.CLIENT_CHECK_MS,)  # milliseconds
    free = conn.execute("SELECT pg_try_advisory_lock(%s)", (key[0],)).fetchone()
    assert free == (True,)
    conn.execute("SELECT pg_advisory_unlock(%s)", (key[0],))
