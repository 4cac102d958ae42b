"""The checks of a SIGKILL round: after the kill (nothing damaged, nothing held) and after the rerun (parity)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from tests.faults.ledger_watch import wait_for
from tests.support import pg_digest
from vectorops.quality import parity

if TYPE_CHECKING:
    from tests.faults.kill_harness import Round, Workload

RELEASE_LIMIT_S = 5.0  # the writing sessions check their client every second (claims.CLIENT_CHECK_MS)


def attempt_state(work: Workload, since: float) -> tuple[str | None, str]:
    """The newest attempt started after ``since``: its id, and ``<status>, <done>/<chunks> chunks done``."""
    with psycopg.connect(work.dsn, autocommit=True) as conn:
        row = conn.execute(
            """SELECT r.attempt_id, r.status, r.chunks,
                      (SELECT count(*) FROM vectorops.migration_chunks c
                       WHERE c.attempt_id = r.attempt_id AND c.status = 'done')
               FROM vectorops.migration_runs r WHERE r.collection = %s AND r.target_schema = %s
                 AND r.started_at >= to_timestamp(%s) ORDER BY r.started_at DESC LIMIT 1""",
            (work.source.name, work.schema, since)).fetchone()
    if row is None:
        return None, "no attempt yet"
    return row[0], f"{row[1]}, {row[3]}/{row[2] if row[2] is not None else '?'} chunks done"


def live_checksum(work: Workload) -> tuple[str, int]:
    """sha256 and row count of the live table, computed in the database's byte order."""
    with psycopg.connect(work.dsn) as conn:
        return parity.table_checksum(conn, work.schema, work.table)


def _lock_holders(dsn: str, collection: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return int(conn.execute(
            """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
                 AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('vectorops:live:' || %s, 0)""",
            (collection,)).fetchone()[0])


def _invalid_indexes(conn: psycopg.Connection, schema: str) -> list[str]:
    return [r[0] for r in conn.execute(
        """SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_namespace n ON n.oid = i.relnamespace WHERE n.nspname = %s AND NOT x.indisvalid""", (schema,))]


def _registry(conn: psycopg.Connection, collection: str) -> dict[str, Any]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute("SELECT * FROM vectorops.collection_registry WHERE collection = %s",
                          (collection,)).fetchone()
    return row or {}


def after_kill(work: Workload, result: Round, previous: tuple[str, int]) -> None:
    """Nothing of the killed run still holds the collection; the live table is the previous version."""
    started = time.monotonic()
    released = wait_for(lambda: _lock_holders(work.dsn, work.source.name) == 0, 30, 0.1)
    result.release_s = time.monotonic() - started
    if not released or result.release_s > RELEASE_LIMIT_S:
        result.problems.append(f"the killed run's sessions held the collection's live lock for "
                               f"{result.release_s:.1f}s after the kill")
    with psycopg.connect(work.dsn, autocommit=True) as conn:
        promoted = _registry(conn, work.source.name).get("last_attempt_id")
        claims = conn.execute("SELECT count(*) FROM vectorops.collection_claims WHERE collection = %s",
                              (work.source.name,)).fetchone()[0]
        invalid = _invalid_indexes(conn, work.schema)
    current = live_checksum(work)
    if promoted is not None and promoted == result.attempt:
        result.at_kill += "; already promoted"  # the kill came after the promotion committed
    elif current != previous:
        result.problems.append(f"the live table changed before promotion: {previous[1]} rows → {current[1]}")
    if claims > 1:
        result.problems.append(f"{claims} claims on the collection")
    if invalid:
        result.problems.append(f"invalid indexes after the kill: {invalid}")


def after_rerun(work: Workload, result: Round) -> None:
    """Live rows = source - quarantined, exact quarantine, 0 duplicates, equal sha256, nothing left over."""
    source, name = work.source, work.source.name
    with psycopg.connect(work.dsn, autocommit=True) as conn:
        registry = _registry(conn, name)
        table = sql.Identifier(work.schema, work.table)
        rows, distinct = conn.execute(sql.SQL("SELECT count(*), count(DISTINCT id) FROM {}").format(table)).fetchone()
        quarantined = {r[0] for r in conn.execute(
            "SELECT record_id FROM vectorops.quarantine WHERE collection = %s AND attempt_id = %s",
            (name, registry.get("last_attempt_id")))}
        leftovers = [r[0] for r in conn.execute(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname NOT IN (%s, %s)""",
            (work.schema, work.table, f"{work.table}__prev"))]
        invalid = _invalid_indexes(conn, work.schema)
        claims = conn.execute("SELECT count(*) FROM vectorops.collection_claims WHERE collection = %s",
                              (name,)).fetchone()[0]
    result.rows, result.quarantined = int(rows), len(quarantined)
    result.resumed = result.attempt is not None and result.attempt == registry.get("last_attempt_id")
    counts = (registry.get("source_count"), registry.get("loaded_count"), registry.get("quarantined_count"))
    expected = (source.count, source.count - len(source.quarantined), len(source.quarantined))
    if counts != expected or rows != expected[1]:
        result.problems.append(f"registry (source, loaded, quarantined) {counts}, table {rows} rows; "
                               f"expected {expected}")
    if quarantined != source.quarantined:
        result.problems.append(f"quarantined {sorted(quarantined)[:5]}, expected {sorted(source.quarantined)[:5]}")
    if rows != distinct:
        result.problems.append(f"{rows - distinct} duplicate ids")
    if source.digest() != pg_digest(work.dsn, work.schema, work.table):
        result.problems.append("sha256 over the sorted records differs from the source's")
    if leftovers or invalid or claims:
        result.problems.append(f"left behind: tables {leftovers}, invalid indexes {invalid}, {claims} claim(s)")
