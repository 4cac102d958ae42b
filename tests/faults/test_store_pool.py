"""The store's connection pool under faults: a connection the server ended is never handed out, a server that
cannot be reached fails with libpq's own reason (not as an exhausted pool), concurrent callers never hold more
connections than the cap, and closing the store stops the pool's threads and ends its sessions."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.chroma_run import free_port
from tests.faults.ledger_watch import wait_for
from tests.store.conftest import drop_store_schema
from vectorops.store import PoolExhausted
from vectorops.store.pg_pool import ConnectionPool, SessionLimits
from vectorops.store.postgres import PostgresStore


@pytest.fixture()
def store(dsn: str) -> Iterator[PostgresStore]:
    """A store in a schema of its own, with a one-row collection ``ccc``."""
    schema = f"store_pool_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, table_schema=schema, service=f"pool-{schema[-8:]}", pool_max_size=3)
    store.get_or_create_collection("ccc").add(ids=["a"], embeddings=[[1.0, 2.0]])
    yield store
    store.close()
    drop_store_schema(dsn, schema, store.service)


def _backends(dsn: str, application_name: str) -> list[int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                           (application_name,))]


def test_a_connection_the_server_ended_is_not_handed_out(store: PostgresStore, dsn: str) -> None:
    col = store.get_collection("ccc")
    with store.pool.connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(dsn, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        assert wait_for(lambda: admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                              (pid,)).fetchone() is None, 10)
    assert col.count() == 1  # served by a new session, not the dead one
    with store.pool.connection() as conn:
        assert conn.info.backend_pid != pid
        assert conn.execute("SHOW statement_timeout").fetchone() == ("30s",)  # the new session is configured


def test_an_unreachable_server_fails_with_libpqs_reason(dsn: str) -> None:
    nowhere = make_conninfo(dsn, host="127.0.0.1", port=str(free_port()))
    pool = ConnectionPool(nowhere, limits=SessionLimits(statement_timeout_ms=700, max_size=2))
    try:
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError) as caught, pool.connection():
            pass
        assert not isinstance(caught.value, PoolExhausted)
        assert "refused" in str(caught.value), str(caught.value)
        assert time.monotonic() - started < 5.0
    finally:
        pool.close()


def test_concurrent_callers_stay_under_the_cap(store: PostgresStore, dsn: str) -> None:
    col = store.get_collection("ccc")
    seen: set[int] = set()
    failures: list[BaseException] = []
    stop = time.monotonic() + 2.0

    def caller() -> None:
        try:
            while time.monotonic() < stop:
                with store.pool.connection() as conn:
                    seen.add(conn.info.backend_pid)
                    conn.execute("SELECT pg_sleep(0.01)")
                assert col.count() == 1
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    peak = 0
    while any(t.is_alive() for t in threads):
        peak = max(peak, len(_backends(dsn, store.pool.application_name)))
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert failures == []
    assert 1 < len(seen) <= 3 and peak <= 3, (seen, peak)


def test_closing_stops_the_pool(store: PostgresStore, dsn: str) -> None:
    store.get_collection("ccc").count()
    name = store.pool.application_name

    def pool_threads() -> list[Any]:
        return [t for t in threading.enumerate() if t.name.startswith(f"{name}-")]

    assert pool_threads(), "the pool runs no worker threads"
    assert _backends(dsn, name)
    store.close()
    assert pool_threads() == []
    assert wait_for(lambda: _backends(dsn, name) == [], 10)
    with pytest.raises(psycopg.InterfaceError, match="the store is closed"):
        store.get_collection("ccc")
