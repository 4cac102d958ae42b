"""The ledger's runs and claims: rows of ``vectorops.migration_runs`` and ``vectorops.collection_claims``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from vectorops.db.sql_files import sql_text
from vectorops.migration.ledger.chunks import clear_chunks, clear_quarantine, clear_staged_ids

_ERROR_CHARS = 4000


def insert_run(conn: psycopg.Connection, **run: Any) -> None:
    """A new attempt, scanning (the keys of ``vectorops/sql/migration/insert_run.sql``)."""
    conn.execute(sql_text("migration/insert_run"), run)


def resume_own_attempt(conn: psycopg.Connection, attempt_id: str) -> tuple[str, str]:
    """A run takes its own attempt up again; returns its shadow table and status."""
    row = conn.execute(sql_text("migration/update_own_attempt"), (attempt_id,)).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def resumable_attempt(conn: psycopg.Connection, *, collection: str, fingerprint: str, target_schema: str,
                      table_name: str) -> tuple[str, str, str, str] | None:
    """``(attempt_id, run_id, shadow_table, status)`` of the latest unfinished attempt of the same source and
    target, or ``None``."""
    row = conn.execute(sql_text("migration/select_resumable_attempt"), {
        "collection": collection, "fingerprint": fingerprint, "target_schema": target_schema,
        "table_name": table_name}).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def adopt_attempt(conn: psycopg.Connection, attempt_id: str, run_id: str, owner_token: str | None) -> str | None:
    """Make another run's stale attempt ``run_id``'s; returns its status."""
    row = conn.execute(sql_text("migration/update_adopted_attempt"), (run_id, owner_token, attempt_id)).fetchone()
    return None if row is None else str(row[0])


def supersede_attempts(conn: psycopg.Connection, collection: str, keep: str | None) -> list[tuple[str, str, str]]:
    """Mark the collection's unfinished attempts other than ``keep`` superseded; returns their
    ``(attempt_id, target_schema, shadow_table)``."""
    return [(r[0], r[1], r[2]) for r in conn.execute(sql_text("migration/update_superseded_runs"),
                                                    (collection, keep)).fetchall()]


def forget_attempt(conn: psycopg.Connection, attempt_id: str) -> None:
    """Delete a superseded attempt's staged ids, chunks and quarantine rows."""
    clear_staged_ids(conn, attempt_id)
    clear_chunks(conn, attempt_id)
    clear_quarantine(conn, attempt_id)


def mark_planned(conn: psycopg.Connection, attempt_id: str, **planned: Any) -> None:
    """Staging is done: the attempt loads ``chunks`` from now on (the keys of ``update_run_planned.sql``)."""
    conn.execute(sql_text("migration/update_run_planned"), {"attempt_id": attempt_id, **planned})


def add_prepare_seconds(conn: psycopg.Connection, attempt_id: str, seconds: float) -> None:
    """Add a prepare's working time to the attempt's."""
    conn.execute("UPDATE vectorops.migration_runs SET prepare_seconds = prepare_seconds + %s WHERE attempt_id = %s",
                 (seconds, attempt_id))


def set_source_stamp(conn: psycopg.Connection, attempt_id: str, stamp: str | None) -> None:
    """Keep the stamp of the files the ids were staged from (``None``: staged through the API)."""
    conn.execute("UPDATE vectorops.migration_runs SET source_stamp = %s WHERE attempt_id = %s", (stamp, attempt_id))


def source_stamp(conn: psycopg.Connection, attempt_id: str) -> str | None:
    """The stamp of the files the attempt's ids were staged from, or ``None`` (staged through the API)."""
    row = conn.execute("SELECT source_stamp FROM vectorops.migration_runs WHERE attempt_id = %s",
                       (attempt_id,)).fetchone()
    return None if row is None else row[0]


@dataclass(frozen=True)
class ReadPoint:
    """What an attempt's ids were staged at.

    :param read_point: the collection's newest sequence number the staged ids include (``None``: a source
        without sequence numbers, read through Chroma's API).
    :param at: when it was taken.
    :param stamp: the files' stamp at staging (``None``: staged through the API).
    :param staged: how many ids the source held at the read point (``None`` until staging is done).
    :param gone: staged ids found gone since (at staging, and by the chunks loaded so far).
    """

    read_point: int | None
    at: datetime | None
    stamp: str | None
    staged: int | None
    gone: int


def set_read_point(conn: psycopg.Connection, attempt_id: str, read_point: int | None, at: datetime,
                   stamp: str | None) -> None:
    """Record what the attempt's ids are staged at (see :class:`ReadPoint`)."""
    conn.execute(sql_text("migration/update_run_read_point"), {"attempt_id": attempt_id, "read_point": read_point,
                                                               "read_point_at": at, "stamp": stamp})


def read_point_of(conn: psycopg.Connection, attempt_id: str) -> ReadPoint:
    """What the attempt's ids were staged at."""
    row = conn.execute(sql_text("migration/select_read_point"), (attempt_id,)).fetchone()
    assert row is not None
    return ReadPoint(row[0], row[1], row[2], row[3], int(row[4]))


def add_gone(conn: psycopg.Connection, attempt_id: str, count: int) -> None:
    """``count`` staged ids were found gone outside a chunk (at staging)."""
    conn.execute("UPDATE vectorops.migration_runs SET gone_count = gone_count + %s WHERE attempt_id = %s",
                 (count, attempt_id))


def record_unkeyable(conn: psycopg.Connection, attempt_id: str, count: int) -> None:
    """``count`` ids no key could hold were quarantined at staging."""
    conn.execute(sql_text("migration/update_unkeyable"), (count, count, attempt_id))


def unkeyable_count(conn: psycopg.Connection, attempt_id: str) -> int:
    """How many of the attempt's ids no key could hold."""
    row = conn.execute("SELECT unkeyable_count FROM vectorops.migration_runs WHERE attempt_id = %s",
                       (attempt_id,)).fetchone()
    assert row is not None
    return int(row[0])


def set_validate_seconds(conn: psycopg.Connection, attempt_id: str, seconds: float) -> None:
    """The time the validation gate took."""
    conn.execute("UPDATE vectorops.migration_runs SET validate_seconds = %s WHERE attempt_id = %s",
                 (seconds, attempt_id))


def working_seconds(conn: psycopg.Connection, attempt_id: str) -> tuple[float, float]:
    """The attempt's prepare and load seconds so far."""
    row = conn.execute("SELECT prepare_seconds, load_seconds FROM vectorops.migration_runs WHERE attempt_id = %s",
                       (attempt_id,)).fetchone()
    return (float(row[0]), float(row[1])) if row else (0.0, 0.0)


def set_finalize_seconds(conn: psycopg.Connection, attempt_id: str, index_seconds: float,
                         finalize_seconds: float) -> None:
    """The time the index build and the whole finalize took."""
    conn.execute("UPDATE vectorops.migration_runs SET index_seconds = %s, finalize_seconds = %s WHERE attempt_id = %s",
                 (index_seconds, finalize_seconds, attempt_id))


def mark_rejected(conn: psycopg.Connection, attempt_id: str, error: str) -> None:
    """The attempt's shadow table failed validation; it is never resumed."""
    conn.execute(sql_text("migration/update_run_rejected"), (error[:_ERROR_CHARS], attempt_id))


def mark_failed(conn: psycopg.Connection, attempt_id: str, error: str) -> None:
    """The attempt failed with ``error`` (a rerun resumes it), unless it was promoted."""
    conn.execute(sql_text("migration/update_run_failed"), (error[:_ERROR_CHARS], attempt_id))


def mark_promoted(conn: psycopg.Connection, collection: str, attempt_id: str, rows_per_s: float | None,
                  changes_behind: int | None = None) -> None:
    """The attempt is promoted ``changes_behind`` source changes behind: release its claim, drop its staged ids."""
    conn.execute(sql_text("migration/update_run_promoted"), {"rows_per_s": rows_per_s, "attempt_id": attempt_id,
                                                             "changes_behind": changes_behind})
    release_claim(conn, collection, attempt_id)
    clear_staged_ids(conn, attempt_id)


def run_rows(conn: psycopg.Connection, run_id: str) -> list[tuple[Any, ...]]:
    """One row per collection of ``run_id`` (the columns of ``select_run_rows.sql``)."""
    return list(conn.execute(sql_text("migration/select_run_rows"), (run_id,)).fetchall())


def shadow_checked(conn: psycopg.Connection, attempt_id: str, lock: bool = False) -> bool | None:
    """Whether the shadow was compared with the ledger since the server started (``None``: no such attempt).

    :param lock: lock the attempt's row until the transaction ends.
    """
    query = sql_text("migration/select_shadow_checked") + (" FOR UPDATE" if lock else "")
    row = conn.execute(query, (attempt_id,)).fetchone()
    return None if row is None else bool(row[0])


def mark_shadow_checked(conn: psycopg.Connection, attempt_id: str) -> None:
    """The shadow agrees with the ledger as of this server start."""
    conn.execute("UPDATE vectorops.migration_runs SET shadow_server_start = pg_postmaster_start_time() "
                 "WHERE attempt_id = %s", (attempt_id,))


def reset_loads(conn: psycopg.Connection, attempt_id: str) -> None:
    """Every chunk of the attempt loads again: chunks pending, quarantine rows and load totals gone."""
    # the ids the chunks found gone are found again; those found gone at staging stay counted
    conn.execute("""UPDATE vectorops.migration_runs SET loaded_count = 0, quarantined_count = 0, load_seconds = 0,
                    gone_count = gone_count - (SELECT coalesce(sum(gone_count), 0) FROM vectorops.migration_chunks
                                               WHERE attempt_id = %s)
                    WHERE attempt_id = %s""", (attempt_id, attempt_id))
    conn.execute(sql_text("migration/update_chunks_pending"), (attempt_id,))
    clear_quarantine(conn, attempt_id)


# --- claims -----------------------------------------------------------------------------------------------------

def current_claim(conn: psycopg.Connection, *, collection: str, ttl_s: int, fingerprint: str, target_schema: str,
                  table_name: str) -> tuple[Any, ...] | None:
    """``(attempt_id, run_id, owner_token, heartbeat_old, same_source_and_target)`` of the claim, or ``None``."""
    return conn.execute(sql_text("migration/select_claim"), {
        "collection": collection, "ttl_s": ttl_s, "fingerprint": fingerprint, "target_schema": target_schema,
        "table_name": table_name}).fetchone()


def set_claim(conn: psycopg.Connection, collection: str, attempt_id: str, run_id: str) -> None:
    """``attempt_id`` of ``run_id`` holds the claim on ``collection`` now."""
    conn.execute(sql_text("migration/upsert_claim"), (collection, attempt_id, run_id))


def claim_holder(conn: psycopg.Connection, collection: str) -> tuple[str, str] | None:
    """``(attempt_id, run_id)`` holding the claim on ``collection``, or ``None``."""
    row = conn.execute("SELECT attempt_id, run_id FROM vectorops.collection_claims WHERE collection = %s",
                       (collection,)).fetchone()
    return None if row is None else (row[0], row[1])


def release_claim(conn: psycopg.Connection, collection: str, attempt_id: str) -> None:
    """Drop the claim on ``collection`` if ``attempt_id`` holds it."""
    conn.execute("DELETE FROM vectorops.collection_claims WHERE collection = %s AND attempt_id = %s",
                 (collection, attempt_id))
