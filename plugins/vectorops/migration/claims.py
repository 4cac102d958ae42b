"""Who may write a collection: claims, advisory locks, adoption of an interrupted attempt.

Two advisory locks per collection:

* the *live* lock is held in shared mode by every session that is writing for the owning attempt;
  another run can take it exclusively only when none of them is at work;
* the *claim* lock serialises the claim decision itself (transaction-scoped).

``vectorops migrate`` also holds an *owner token* lock for its whole process, so its claims die with it.
A claim held by another run is stale when nobody holds its live lock and either its owner token is
no longer held (the CLI died) or, for Airflow runs, its heartbeat is older than ``VECTOROPS_CLAIM_TTL_S``.
A stale attempt with the same source fingerprint and target is adopted, so a rerun resumes from
the chunks that committed.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from vectorops.db import ownership
from vectorops.db.connect import connect
from vectorops.errors import CollectionBusy
from vectorops.migration import ledger

log = logging.getLogger(__name__)

_LIVE = "SELECT hashtextextended('vectorops:live:' || %s, 0)"
#: How often (ms) a writing session checks that its client is alive; a dead client's statement is then cancelled.
CLIENT_CHECK_MS = 1000


@dataclass(frozen=True)
class Attempt:
    """The attempt a run writes a collection through."""

    attempt_id: str
    shadow_table: str
    status: str
    adopted_from_run: str | None


def owner_token() -> str | None:
    """The token ``vectorops migrate`` holds a lock on for its whole run; ``None`` under Airflow."""
    return os.environ.get("VECTOROPS_OWNER_TOKEN") or None


def _token_key(conn: psycopg.Connection, token: str) -> int:
    row = conn.execute("SELECT hashtextextended('vectorops:owner:' || %s, 0)", (token,)).fetchone()
    assert row is not None
    return int(row[0])


def _live_key(conn: psycopg.Connection, collection: str) -> int:
    row = conn.execute(_LIVE, (collection,)).fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def holding_live_lock(conn: psycopg.Connection, collection: str) -> Iterator[None]:
    """Hold the collection's live lock in shared mode on ``conn`` for the block.

    The session also checks every :data:`CLIENT_CHECK_MS` that its client is still there. Without that, a
    statement whose client was killed (an index build, ``SET LOGGED``) runs to its end on the server, holding
    the live lock, and a rerun is refused for minutes by a run that no longer exists.
    """
    key = _live_key(conn, collection)
    conn.execute(sql.SQL("SET client_connection_check_interval = {}").format(sql.Literal(CLIENT_CHECK_MS)))
    conn.execute("SELECT pg_advisory_lock_shared(%s)", (key,))
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock_shared(%s)", (key,))


def _someone_writing(conn: psycopg.Connection, collection: str) -> bool:
    key = _live_key(conn, collection)
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if row and row[0]:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return False
    return True


def _token_alive(conn: psycopg.Connection, token: str) -> bool:
    key = _token_key(conn, token)
    row = conn.execute("SELECT pg_try_advisory_lock_shared(%s)", (key,)).fetchone()
    if row and row[0]:
        conn.execute("SELECT pg_advisory_unlock_shared(%s)", (key,))
        return False
    return True


def _shadow_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                       (sql.Identifier(schema, table).as_string(conn),)).fetchone()
    return bool(row and row[0])


def claim(conn: psycopg.Connection, *, collection: str, run_id: str, fingerprint: str, target_schema: str,
          table_name: str, source_uri: str, ttl_s: int) -> Attempt:
    """Claim ``collection`` for ``run_id``: reuse its own attempt, adopt a stale one, or start a new one.

    Must be called outside a transaction; commits on return.

    :raises CollectionBusy: naming the run that owns the collection now.
    """
    from vectorops.naming import shadow_name

    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops:claim:' || %s, 0))", (collection,))
        target = {"fingerprint": fingerprint, "target_schema": target_schema, "table_name": table_name}
        current = ledger.current_claim(conn, collection=collection, ttl_s=ttl_s, **target)
        if current and current[1] == run_id and current[4]:
            # the run's own attempt, e.g. a task retry: a failed one goes back to where its ledger says it was
            shadow, status = ledger.resume_own_attempt(conn, current[0])
            return Attempt(current[0], shadow, status, None)
        if current and current[1] != run_id:
            token, heartbeat_old = current[2], current[3]
            alive = _token_alive(conn, token) if token else not heartbeat_old
            if alive or _someone_writing(conn, collection):
                raise CollectionBusy(
                    f"collection {collection!r} is being migrated by run {current[1]} (attempt {current[0]}); "
                    f"wait for it to finish, or for its claim to go stale after {ttl_s}s without progress")
            log.warning("collection %r: claim of run %s is stale; taking over", collection, current[1])
        candidate = ledger.resumable_attempt(conn, collection=collection, **target)
        if candidate and _shadow_exists(conn, target_schema, candidate[2]):
            attempt_id, old_run, shadow, _ = candidate
            adopted_status = ledger.adopt_attempt(conn, attempt_id, run_id, owner_token())
            _supersede_others(conn, collection, keep=attempt_id)
            adopted = Attempt(attempt_id, shadow, adopted_status or "loading", old_run)
            log.info("collection %r: run %s resumes attempt %s of run %s", collection, run_id, attempt_id, old_run)
        else:
            _supersede_others(conn, collection, keep=None)
            attempt_id = secrets.token_hex(4)
            shadow = shadow_name(table_name, attempt_id)
            ledger.insert_run(conn, attempt_id=attempt_id, run_id=run_id, collection=collection,
                              shadow_table=shadow, source_uri=source_uri, owner_token=owner_token(), **target)
            adopted = Attempt(attempt_id, shadow, "scanning", None)
        ledger.set_claim(conn, collection, adopted.attempt_id, run_id)
    return adopted


def _supersede_others(conn: psycopg.Connection, collection: str, keep: str | None) -> None:
    """Drop what unfinished attempts other than ``keep`` left behind: shadow tables, staging, quarantine."""
    for attempt_id, schema, shadow in ledger.supersede_attempts(conn, collection, keep):
        if ownership.owns_table(conn, schema, shadow):
            ownership.drop_table(conn, schema, shadow)
        elif ownership.relation_kind(conn, schema, shadow) is not None:
            log.warning("attempt %s: %s.%s was not created by vectorops; left as it is", attempt_id, schema, shadow)
        ledger.forget_attempt(conn, attempt_id)


def verify_owner(conn: psycopg.Connection, collection: str, attempt_id: str) -> None:
    """Raise :class:`CollectionBusy` unless ``attempt_id`` still holds the claim on ``collection``."""
    row = ledger.claim_holder(conn, collection)
    if row is None or row[0] != attempt_id:
        owner = f"run {row[1]} (attempt {row[0]})" if row else "nobody"
        raise CollectionBusy(f"collection {collection!r} is no longer claimed by attempt {attempt_id}; "
                             f"it is now claimed by {owner}")


@contextmanager
def owner_token_held(dsn: str) -> Iterator[str]:
    """Hold a fresh owner token for the block and export it as ``VECTOROPS_OWNER_TOKEN``.

    Used by ``vectorops migrate``: claims made in this process are stale as soon as it dies.
    """
    token = secrets.token_hex(8)
    conn = connect(dsn, autocommit=True, application_name="vectorops-cli-owner")
    previous = os.environ.get("VECTOROPS_OWNER_TOKEN")
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (_token_key(conn, token),))
        os.environ["VECTOROPS_OWNER_TOKEN"] = token
        yield token
    finally:
        if previous is None:
            os.environ.pop("VECTOROPS_OWNER_TOKEN", None)
        else:
            os.environ["VECTOROPS_OWNER_TOKEN"] = previous
        conn.close()
