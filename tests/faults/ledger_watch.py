"""Watch a migration from outside while it runs: the ledger is never ahead of the data, the live table serves.

Each observation is one REPEATABLE READ transaction, so the chunk ledger and the shadow table are read in the
same snapshot: ``sum(loaded_count)`` of the done chunks (and ``migration_runs.loaded_count``) must never exceed
the rows the shadow table holds. A nearest-neighbour query on the live table must answer at every observation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

ATTEMPTS = """SELECT r.attempt_id, r.shadow_table, r.loaded_count,
                     (SELECT coalesce(sum(c.loaded_count), 0) FROM vectorops.migration_chunks c
                      WHERE c.attempt_id = r.attempt_id AND c.status = 'done'),
                     to_regclass(format('%%I.%%I', r.target_schema, r.shadow_table)) IS NOT NULL
              FROM vectorops.migration_runs r
              WHERE r.collection = %s AND r.target_schema = %s AND r.status IN ('scanning', 'loading', 'failed')"""


@dataclass
class Watch:
    """What the watcher saw.

    :param observations: snapshots in which a shadow table was counted.
    :param ahead: ledger rows that claimed more than the shadow held (must stay empty).
    :param behind: snapshots where the shadow held rows no done chunk accounts for (must stay empty).
    :param live_answers: nearest-neighbour queries the live table answered.
    :param live_errors: queries it failed (a lock wait during promotion is not an error).
    """

    observations: int = 0
    ahead: list[str] = field(default_factory=list)
    behind: list[str] = field(default_factory=list)
    live_answers: int = 0
    live_errors: list[str] = field(default_factory=list)

    def merge(self, other: Watch) -> None:
        """Add ``other``'s counts and findings to these."""
        self.observations += other.observations
        self.ahead += other.ahead
        self.behind += other.behind
        self.live_answers += other.live_answers
        self.live_errors += other.live_errors


def observe(conn: psycopg.Connection, watch: Watch, collection: str, schema: str, table: str) -> None:
    """One observation in one snapshot; findings go into ``watch``.

    :param conn: a non-autocommit connection with ``lock_timeout`` set.
    """
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for attempt, shadow, run_loaded, done_loaded, exists in conn.execute(
                ATTEMPTS, (collection, schema)).fetchall():
            if not exists:
                continue
            try:
                with conn.transaction():
                    in_table = _count_in_snapshot(conn, sql.Identifier(schema, shadow))
            except (psycopg.errors.LockNotAvailable, psycopg.errors.UndefinedTable):
                continue  # being renamed, made logged or dropped right now
            if in_table is None:
                continue
            watch.observations += 1
            if done_loaded > in_table or run_loaded > in_table:
                watch.ahead.append(f"attempt {attempt}: ledger says {done_loaded} (run row {run_loaded}), "
                                   f"shadow holds {in_table}")
            elif done_loaded < in_table:
                watch.behind.append(f"attempt {attempt}: shadow holds {in_table}, done chunks {done_loaded}")
        try:
            with conn.transaction():
                target = sql.Identifier(schema, table)
                seen = _snapshot_filenode(conn, target)
                found = conn.execute(sql.SQL("SELECT id FROM {0} ORDER BY embedding <=> (SELECT embedding FROM {0} "
                                             "ORDER BY id LIMIT 1) LIMIT 5").format(target)).fetchall()
                if seen is None or seen != _current_filenode(conn, target):
                    return  # promoted (renamed in) or rewritten after the snapshot began: see _count_in_snapshot
            if len(found) == 5:
                watch.live_answers += 1
            else:
                watch.live_errors.append(f"the live table answered {len(found)} rows instead of 5")
        except psycopg.errors.LockNotAvailable:
            pass  # promotion holds its lock for a moment
        except psycopg.Error as exc:
            watch.live_errors.append(f"{type(exc).__name__}: {str(exc).strip()[:200]}")


def _snapshot_filenode(conn: psycopg.Connection, table: sql.Identifier) -> int | None:
    """The table's file as this transaction's snapshot sees ``pg_class`` (None: not there yet)."""
    row = conn.execute("SELECT relfilenode FROM pg_class WHERE oid = to_regclass(%s)",
                       (table.as_string(conn),)).fetchone()
    return None if row is None else int(row[0])


def _current_filenode(conn: psycopg.Connection, table: sql.Identifier) -> int | None:
    """The file the server reads for the table now, whatever the snapshot."""
    value = conn.execute("SELECT pg_relation_filenode(to_regclass(%s))", (table.as_string(conn),)).fetchone()[0]
    return None if value is None else int(value)


def _count_in_snapshot(conn: psycopg.Connection, table: sql.Identifier) -> int | None:
    """``count(*)`` of ``table`` in this snapshot, or None when the count means nothing.

    A table rewrite (finalize's ``SET LOGGED``) is not MVCC-safe: a snapshot taken before it sees the new file as
    empty. So a count is kept only when the file read is the one this snapshot's ``pg_class`` names.
    """
    seen = _snapshot_filenode(conn, table)
    counted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]
    return int(counted) if seen is not None and seen == _current_filenode(conn, table) else None


class LedgerWatch:
    """Observe in a thread every ``interval`` seconds until :meth:`stop`.

    :param dsn: the vectors database.
    :param collection: the collection migrated.
    :param schema: its target schema.
    :param table: its live table.
    """

    def __init__(self, dsn: str, collection: str, schema: str, table: str, interval: float = 0.2) -> None:
        self.args = (collection, schema, table)
        self.dsn = dsn
        self.interval = interval
        self.watch = Watch()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-watch", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            with psycopg.connect(self.dsn, options="-c lock_timeout=200 -c statement_timeout=10000") as conn:
                while not self._stop.is_set():
                    observe(conn, self.watch, *self.args)
                    self._stop.wait(self.interval)
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def __enter__(self) -> LedgerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> Watch:
        """Stop, take a last observation, and return what was seen.

        :raises RuntimeError: when the watcher itself failed.
        """
        self._stop.set()
        self._thread.join(30)
        if self._error is not None:
            raise RuntimeError(f"the ledger watcher failed: {self._error!r}") from self._error
        with psycopg.connect(self.dsn, options="-c lock_timeout=2000") as conn:
            observe(conn, self.watch, *self.args)
        return self.watch


def wait_for(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass; whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
