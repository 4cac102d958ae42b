"""Hostile store requests are bounded: a slow ``$regex`` is cancelled at the service's statement timeout, a killed
client's query ends with it, ``$in`` lists of 100,000 values go as one array parameter, filters nested deeper than
Chroma's limit are refused in one line, and a service holds no more connections than its cap."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.faults.ledger_watch import wait_for
from tests.store.conftest import drop_store_schema
from vectorops.store import CollectionNotFound, PoolExhausted, QueryTimeout, UnsupportedFilter
from vectorops.store.postgres import PostgresStore
from vectorops.store.where import MAX_FILTER_DEPTH

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
#: about 3.5 s a megabyte of WORDS on the test server; it matches nothing, so every row is scanned to the end
SLOW_REGEX = r"(?i)(alpha|beta).{0,100}(gamma|delta).{0,100}(eta|iota).{0,100}zzz"
DOCS, DOC_WORDS = 3500, 200  # 3.8 MB


@pytest.fixture(scope="module")
def slow(dsn: str) -> Iterator[dict[str, Any]]:
    """A collection of 3.8 MB of documents in a schema of its own, on which SLOW_REGEX runs ~13 s."""
    schema = f"store_bounds_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, table_schema=schema, service=f"bounds-{schema}")
    rng = random.Random(5)
    col = store.get_or_create_collection("big-docs")
    for start in range(0, DOCS, 500):
        ids = [f"d{i:05d}" for i in range(start, start + 500)]
        col.add(ids=ids, embeddings=np.ones((len(ids), 2), np.float32),
                documents=[" ".join(rng.choice(WORDS) for _ in range(DOC_WORDS)) for _ in ids])
    yield {"schema": schema, "name": "big-docs", "store": store}
    store.close()
    drop_store_schema(dsn, schema, store.service)


def _active(conn: psycopg.Connection, application_name: str) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s AND state = 'active'",
                        (application_name,)).fetchall()


def test_slow_regex_is_cancelled_at_the_statement_timeout(slow: dict[str, Any], dsn: str) -> None:
    store = PostgresStore(dsn, table_schema=slow["schema"], service="bounds-timeout", statement_timeout_ms=500)
    try:
        col = store.get_collection(slow["name"])
        for call in (lambda: col.get(where_document={"$regex": SLOW_REGEX}, include=[]),
                     lambda: col.query(query_embeddings=[[1.0, 1.0]], n_results=3,
                                       where_document={"$regex": SLOW_REGEX}),
                     lambda: col.delete(where_document={"$regex": SLOW_REGEX})):
            started = time.monotonic()
            with pytest.raises(QueryTimeout) as caught:
                call()
            elapsed = time.monotonic() - started
            message = str(caught.value)
            assert "\n" not in message and "'big-docs'" in message and "500 ms" in message, message
            assert "BOUNDS_TIMEOUT_STATEMENT_TIMEOUT_MS=500" in message, message
            assert elapsed < 3.0, f"cancelled after {elapsed:.1f}s, not at 0.5 s"
        assert col.count() == DOCS  # the session is usable after the cancel, and the delete removed nothing
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert _active(conn, store.pool.application_name) == []
    finally:
        store.close()


CHILD = """
import sys
from vectorops.store.postgres import PostgresStore
dsn, schema, service, name, regex = sys.argv[1:]
store = PostgresStore(dsn, table_schema=schema, service=service, statement_timeout_ms=600000)
store.get_collection(name).get(where_document={"$regex": regex}, include=[])
"""


def test_a_killed_clients_query_ends_with_it(slow: dict[str, Any], dsn: str) -> None:
    """Without ``client_connection_check_interval`` the backend runs the whole scan (~13 s) for a dead client."""
    service = f"bounds-killed-{uuid.uuid4().hex[:6]}"
    application_name = f"vectorops-store:{service}"
    child = subprocess.Popen([sys.executable, "-c", CHILD, dsn, slow["schema"], service, slow["name"], SLOW_REGEX],
                             start_new_session=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        def running() -> list[tuple[Any, ...]]:
            return conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s AND state = 'active' "
                                "AND query LIKE %s", (application_name, "%document%~%")).fetchall()

        assert wait_for(lambda: running() or child.poll() is not None, 60), "the query never started"
        assert child.poll() is None, "the query finished before the kill; make it slower"
        [(pid,)] = running()
        time.sleep(0.5)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        killed = time.monotonic()
        gone = wait_for(lambda: conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                        is None, 30, 0.05)
        ended = time.monotonic() - killed
    assert gone and ended < 4.0, f"the dead client's query ran on for {ended:.1f}s"


def test_in_with_100k_floats_and_strings(dsn: str) -> None:
    schema = f"store_in_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, table_schema=schema, service=f"bounds-{schema}")
    try:
        col = store.get_or_create_collection("wide-in")
        n = 2000
        ids = [f"r{i:04d}" for i in range(n)]
        col.add(ids=ids, embeddings=np.ones((n, 2), np.float32),
                metadatas=[{"x": i * 0.5 + 0.25, "s": f"s{i}", "k": i} for i in range(n)])
        wanted = set(range(0, n, 7))
        others = range(100_000 - len(wanted))
        floats = [i * 0.5 + 0.25 for i in sorted(wanted)] + [1e6 + j * 0.5 + 0.125 for j in others]
        strings = [f"s{i}" for i in sorted(wanted)] + [f"absent-{j}" for j in others]
        expected = sorted(ids[i] for i in wanted)
        assert len(floats) == len(strings) == 100_000
        assert sorted(col.get(where={"x": {"$in": floats}}, include=[])["ids"]) == expected
        assert sorted(col.get(where={"s": {"$in": strings}}, include=[])["ids"]) == expected
        assert len(col.get(where={"x": {"$nin": floats}}, include=[])["ids"]) == n - len(wanted)
        ints = sorted(wanted) + list(range(10_000, 110_000 - len(wanted)))
        assert sorted(col.get(where={"k": {"$in": ints}}, include=[])["ids"]) == expected
        assert sorted(col.get(where={"$and": [{"s": {"$in": strings}}, {"x": {"$nin": floats[:50]}}]},
                              include=[])["ids"]) == expected[50:]
        top = col.query(query_embeddings=[[1.0, 1.0]], n_results=5, where={"x": {"$in": floats}}, include=[])
        assert len(top["ids"][0]) == 5 and set(top["ids"][0]) <= set(expected)
        many = {"$or": [{"k": i} for i in range(40_000)]}  # one parameter a condition: still one statement
        assert len(col.get(where=many, include=[])["ids"]) == n
        with pytest.raises(UnsupportedFilter, match=r"^where / where_document: 70000 conditions are more than one "
                                                    r"PostgreSQL statement can carry \(65527 parameters\)"):
            col.get(where={"$or": [{"k": i} for i in range(70_000)]})
    finally:
        store.close()
        drop_store_schema(dsn, schema, store.service)


def _nested(levels: int, leaf: dict[str, Any], sibling: dict[str, Any], op: str = "$and") -> dict[str, Any]:
    clause = leaf
    for _ in range(levels):
        clause = {op: [clause, sibling]}
    return clause


def test_nesting_deeper_than_chromas_limit_is_one_line(dsn: str) -> None:
    schema = f"store_nest_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, table_schema=schema, service=f"bounds-{schema}")
    try:
        col = store.get_or_create_collection("nested")
        col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"k": 1}], documents=["doc"])
        # 63 levels around {"k": 1} is 127 deep: Chroma's most (tests/store/test_filter_bounds.py)
        assert col.get(where=_nested(63, {"k": 1}, {"k": 1}), include=[])["ids"] == ["a"]
        assert col.get(where_document=_nested(63, {"$contains": "d"}, {"$contains": "o"}, "$or"),
                       include=[])["ids"] == ["a"]
        for levels in (64, 200, 5000, 100_000):
            for kind, clause in (("where", _nested(levels, {"k": 1}, {"k": 1}, "$or")),
                                 ("where", _nested(levels, {"#document": {"$not_contains": "x"}}, {"k": 1})),
                                 ("where_document", _nested(levels, {"$not_contains": "x"}, {"$contains": "d"}))):
                for method, extra in (("get", {}), ("query", {"query_embeddings": [[1.0, 2.0]]}), ("delete", {})):
                    with pytest.raises(UnsupportedFilter) as caught:
                        getattr(col, method)(**extra, **{kind: clause})
                    message = str(caught.value)
                    assert "\n" not in message and f"more than {MAX_FILTER_DEPTH} levels" in message, message
                    assert message.startswith(kind), message
        assert col.count() == 1
    finally:
        store.close()
        drop_store_schema(dsn, schema, store.service)


def test_connections_are_capped(dsn: str) -> None:
    schema = f"store_cap_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, table_schema=schema, service=f"bounds-cap-{schema[-8:]}", statement_timeout_ms=800,
                          pool_max_size=2)
    try:
        col = store.get_or_create_collection("capped")
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        with ExitStack() as borrowed:
            conns = [borrowed.enter_context(store.pool.connection()) for _ in range(2)]
            assert len({id(c) for c in conns}) == 2
            started = time.monotonic()
            with pytest.raises(PoolExhausted, match=r"all 2 connections stayed busy for 0\.8 s "
                                                    rf"\(BOUNDS_CAP_{schema[-8:].upper()}_POOL_MAX_SIZE=2\)"):
                col.count()
            assert 0.7 < time.monotonic() - started < 3.0
            with psycopg.connect(dsn, autocommit=True) as conn:
                assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                    (store.pool.application_name,)).fetchone()[0] == 2
        assert col.count() == 1
        with store.pool.connection() as conn:
            settings = conn.execute("SELECT current_setting('statement_timeout'), "
                                    "current_setting('client_connection_check_interval')").fetchone()
            params = conn.info.get_parameters()
        assert settings == ("800ms", "1s")
        assert (params["keepalives"], params["keepalives_idle"]) == ("1", "30")
        with pytest.raises(CollectionNotFound):
            store.get_collection("not-there")
    finally:
        store.close()
        drop_store_schema(dsn, schema, store.service)
