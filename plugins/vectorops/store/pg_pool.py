"""The store's connections: a :class:`psycopg_pool.ConnectionPool` of autocommit connections with the pgvector
types registered, capped, and with every session bounded: ``statement_timeout``, a check that the client is still
there while a query runs, and TCP keepalives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops.db.connect import connect
from vectorops.store.errors import PoolExhausted

#: libpq TCP keepalives: a peer that vanished without closing (host down, network cut) is noticed in about a
#: minute instead of the kernel's two hours. A DSN's own keepalive settings win.
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3"}
#: PostgreSQL's client_connection_check_interval: how often a backend running a query checks that its client is
#: still connected, so that a killed client's query ends within about this long rather than at its timeout.
CLIENT_CHECK_MS = 1000
#: a session idle inside a transaction longer than this is ended by the server (a stuck client holding locks)
MIN_IDLE_IN_TRANSACTION_MS = 60_000
#: libpq's connect_timeout of the pool's connections, as :func:`vectorops.db.connect` sets it
CONNECT_TIMEOUT_S = 15


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
    """Connections opened on demand and kept for reuse (:class:`psycopg_pool.ConnectionPool`), at most
    ``limits.max_size`` open at once; each is checked with an empty query before it is handed out, so one the
    server ended (restart, ``pg_terminate_backend``) is replaced instead of failing the caller's statement.

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
        self._connect_kwargs: dict[str, Any] = {"autocommit": True, "application_name": application_name,
                                                "connect_timeout": CONNECT_TIMEOUT_S}
        self._last_connect_ok = True
        # min_size=0: connections open on first use, not at construction, where the vector extension may not exist
        # yet (the store's bootstrap creates it). A pool that cannot connect retries in the background only as long
        # as a caller waits, so the next caller after an outage starts a fresh attempt at once.
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection] = psycopg_pool.ConnectionPool(
            self._conninfo, kwargs=self._kwargs, min_size=0, max_size=self.limits.max_size, open=True,
            configure=self._configure, check=psycopg_pool.ConnectionPool.check_connection,
            timeout=self.limits.wait_s, reconnect_timeout=self.limits.wait_s, name=application_name)

    def _kwargs(self) -> dict[str, Any]:
        # called by the pool just before each connection attempt; _configure marks its success
        self._last_connect_ok = False
        return self._connect_kwargs

    def _session_limits(self, conn: psycopg.Connection) -> None:
        conn.execute("SELECT set_config('statement_timeout', %s, false), "
                     "set_config('client_connection_check_interval', %s, false), "
                     "set_config('idle_in_transaction_session_timeout', %s, false)",
                     (str(self.limits.statement_timeout_ms), str(CLIENT_CHECK_MS),
                      str(max(self.limits.statement_timeout_ms, MIN_IDLE_IN_TRANSACTION_MS))))

    def _configure(self, conn: psycopg.Connection) -> None:
        self._session_limits(conn)
        register_vector(conn)  # ProgrammingError without the vector extension: the connection is discarded
        self._last_connect_ok = True

    def open_session(self) -> psycopg.Connection:
        """A new autocommit connection with the pool's session limits, outside the pool (the caller closes it)."""
        conn = connect(self._conninfo, autocommit=True, application_name=self.application_name)
        try:
            self._session_limits(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def connection(self, registered: bool = True) -> Iterator[psycopg.Connection]:
        """Borrow a connection; it goes back to the pool, which rolls back a transaction left open and drops a
        connection that broke.

        :param registered: with the pgvector types registered (``False``: a fresh session, closed afterwards,
            for the bootstrap that may have to create the extension first).
        :raises PoolExhausted: when all connections stay busy for as long as one statement may run.
        :raises psycopg.OperationalError: when the pool could not connect in that time, with libpq's reason.
        """
        if self._pool.closed:
            raise psycopg.InterfaceError("the store is closed")
        if not registered:
            with self.open_session() as conn:
                yield conn
            return
        try:
            conn = self._pool.getconn()
        except psycopg_pool.PoolTimeout as exc:
            raise self._wait_failed() from exc
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    def _wait_failed(self) -> Exception:
        """Why no connection came in time: the pool's last connection attempt failed (one direct attempt raises
        libpq's or the configuration's own error), or every connection stayed busy."""
        if not self._last_connect_ok:
            with self.open_session() as conn:
                register_vector(conn)
        return PoolExhausted(f"{self.application_name}: all {self.limits.max_size} connections stayed busy for "
                             f"{self.limits.wait_s:g} s ({self.limits.max_size_setting}={self.limits.max_size})")

    def close(self) -> None:
        """Close every idle connection and stop the pool's workers; borrowed ones close when they come back."""
        self._pool.close()
