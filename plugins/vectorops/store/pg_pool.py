"""A small thread-safe pool of autocommit connections with the pgvector types registered, capped, and with every
session bounded: ``statement_timeout``, a check that the client is still there while a query runs, and TCP
keepalives."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops import db
from vectorops.store.errors import PoolExhausted

#: libpq TCP keepalives: a peer that vanished without closing (host down, network cut) is noticed in about a
#: minute instead of the kernel's two hours. A DSN's own keepalive settings win.
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3"}
#: PostgreSQL's client_connection_check_interval: how often a backend running a query checks that its client is
#: still connected, so that a killed client's query ends within about this long rather than at its timeout.
CLIENT_CHECK_MS = 1000
#: a session idle inside a transaction longer than this is ended by the server (a stuck client holding locks)
MIN_IDLE_IN_TRANSACTION_MS = 60_000


@dataclass(frozen=True)
class SessionLimits:
    """What bounds every session of a pool.

    :param statement_timeout_ms: ``statement_timeout`` of each session.
    :param max_size: the most connections open at once (borrowed and idle).
    :param max_size_setting: the setting that sets ``max_size``, named when the pool is exhausted.
    """

    statement_timeout_ms: int = 30_000
    max_size: int = 10
    max_size_setting: str = "pool_max_size"

    @property
    def wait_s(self) -> float:
        """How long a caller waits for a free connection: as long as one statement may run."""
        return self.statement_timeout_ms / 1000


def _with_keepalives(dsn: str) -> str:
    given = conninfo_to_dict(dsn)
    missing = {k: v for k, v in KEEPALIVES.items() if k not in given}
    return make_conninfo(dsn, **missing) if missing else dsn


class ConnectionPool:
    """Connections opened on demand and kept for reuse, at most ``limits.max_size`` open at once.

    :param dsn: libpq URL of the vectors database.
    :param application_name: shown in ``pg_stat_activity``.
    :param limits: the sessions' timeouts and the cap.
    """

    def __init__(self, dsn: str, application_name: str = "vectorops-store",
                 limits: SessionLimits | None = None) -> None:
        self.dsn = dsn
        self.application_name = application_name
        self.limits = limits or SessionLimits()
        self._conninfo = _with_keepalives(dsn)
        self._slots = threading.BoundedSemaphore(self.limits.max_size)
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue(maxsize=self.limits.max_size)
        self._closed = False
        self._lock = threading.Lock()

    def open_session(self) -> psycopg.Connection:
        """A new autocommit connection with the pool's session limits."""
        conn = db.connect(self._conninfo, autocommit=True, application_name=self.application_name)
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, false), "
                         "set_config('client_connection_check_interval', %s, false), "
                         "set_config('idle_in_transaction_session_timeout', %s, false)",
                         (str(self.limits.statement_timeout_ms), str(CLIENT_CHECK_MS),
                          str(max(self.limits.statement_timeout_ms, MIN_IDLE_IN_TRANSACTION_MS))))
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> psycopg.Connection:
        from pgvector.psycopg import register_vector

        conn = self.open_session()
        try:
            register_vector(conn)
        except psycopg.ProgrammingError:
            conn.close()  # the vector extension is missing: the caller's bootstrap creates it, then retries
            raise
        return conn

    @contextmanager
    def connection(self, registered: bool = True) -> Iterator[psycopg.Connection]:
        """Borrow a connection; it goes back to the pool unless it broke or is inside a failed transaction.

        :param registered: with the pgvector types registered (``False``: a fresh session, closed afterwards,
            for the bootstrap that may have to create the extension first).
        :raises PoolExhausted: when all connections stay busy for as long as one statement may run.
        """
        if self._closed:
            raise psycopg.InterfaceError("the store is closed")
        if not self._slots.acquire(timeout=self.limits.wait_s):
            raise PoolExhausted(f"{self.application_name}: all {self.limits.max_size} connections stayed busy for "
                                f"{self.limits.wait_s:g} s ({self.limits.max_size_setting}="
                                f"{self.limits.max_size})")
        try:
            if registered:
                try:
                    conn = self._idle.get_nowait()
                except queue.Empty:
                    conn = self._open()
            else:
                conn = self.open_session()
            try:
                yield conn
            except BaseException:
                if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.close()
                raise
            finally:
                if registered:
                    self._release(conn)
                else:
                    conn.close()
        finally:
            self._slots.release()

    def _release(self, conn: psycopg.Connection) -> None:
        if conn.closed or conn.broken or self._closed:
            conn.close()
            return
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            conn.close()

    def close(self) -> None:
        """Close every idle connection; borrowed ones close when they come back."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    self._idle.get_nowait().close()
                except queue.Empty:
                    break
