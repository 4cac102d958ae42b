"""A small thread-safe pool of autocommit connections with the pgvector types registered."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from vectorops import db


class ConnectionPool:
    """Connections opened on demand and kept for reuse (at most ``max_idle`` idle ones).

    :param dsn: libpq URL of the vectors database.
    :param application_name: shown in ``pg_stat_activity``.
    """

    def __init__(self, dsn: str, application_name: str = "vectorops-store", max_idle: int = 8) -> None:
        self.dsn = dsn
        self.application_name = application_name
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue(maxsize=max_idle)
        self._closed = False
        self._lock = threading.Lock()

    def _open(self) -> psycopg.Connection:
        from pgvector.psycopg import register_vector

        conn = db.connect(self.dsn, autocommit=True, application_name=self.application_name)
        try:
            register_vector(conn)
        except psycopg.ProgrammingError:
            conn.close()  # the vector extension is missing: the caller's bootstrap creates it, then retries
            raise
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Borrow a connection; it goes back to the pool unless it broke or is inside a failed transaction."""
        if self._closed:
            raise psycopg.InterfaceError("the store is closed")
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._open()
        try:
            yield conn
        except BaseException:
            if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.close()
            self._release(conn)
            raise
        self._release(conn)

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
