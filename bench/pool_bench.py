"""Throughput of the store's connection pool: small queries from several threads through ``PostgresStore.pool``.

``python bench/pool_bench.py [--dsn URL] [--queries 2000] [--threads 8] [--repeats 3]`` runs, on a store of its
own (schema ``bench_pool``), each of these with ``--threads`` threads sharing ``--queries`` calls:

* ``select1``: borrow a connection, ``SELECT 1``, give it back (the pool's own cost per borrow);
* ``count``: ``collection.count()`` on a one-row collection (a store call: session, one statement);
* ``query``: ``collection.query(..., n_results=1)`` on it (a nearest-neighbour store call);
* ``select1 capped``: ``select1`` with the pool capped below the thread count (callers wait for each other).

Without ``--dsn`` it uses the benchmark's own embedded server (:mod:`isolation`). Prints queries per second,
the best of ``--repeats`` runs. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import isolation


def _run(threads: int, queries: int, call: Callable[[], object]) -> float:
    """Queries per second of ``queries`` calls of ``call`` shared by ``threads`` threads."""
    left = [queries]
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                call()
            except BaseException as exc:  # reported after the run: a failed query must not pass as a fast one
                failures.append(exc)
                return

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} call(s) failed, first: {failures[0]!r}")
    return queries / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="libpq URL of a vectors database (default: the benchmark's own server)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.dsn:
        dsn = args.dsn
    else:
        isolation.isolate()
        from vectorops.config import load_settings
        from vectorops.db.bootstrap import bootstrap

        dsn = bootstrap(load_settings())
    from vectorops.store.postgres import PostgresStore

    schema = "bench_pool"
    store = PostgresStore(dsn, table_schema=schema, service="bench-pool")
    capped = PostgresStore(dsn, table_schema=schema, service="bench-pool-capped",
                           pool_max_size=max(1, args.threads // 2))
    try:
        col = store.get_or_create_collection("tiny")
        col.upsert(ids=["a"], embeddings=[[1.0, 2.0]])
        capped.list_collections()

        def select1(target: PostgresStore) -> Callable[[], object]:
            def call() -> object:
                with target.pool.connection() as conn:
                    return conn.execute("SELECT 1").fetchone()
            return call

        def query() -> object:
            return col.query(query_embeddings=[[1.0, 2.0]], n_results=1)

        cases = (("select1", select1(store)), ("count", col.count), ("query", query),
                 (f"select1 capped at {capped.pool.limits.max_size}", select1(capped)))
        _run(args.threads, args.threads * 4, select1(store))  # warm: the pool holds its connections
        _run(args.threads, args.threads * 4, select1(capped))
        print(f"{args.queries} queries, {args.threads} threads, best of {args.repeats}")
        for name, call in cases:
            rates = [_run(args.threads, args.queries, call) for _ in range(args.repeats)]
            print(f"{name:24s} {max(rates):8.0f} q/s   (runs: {', '.join(f'{r:.0f}' for r in rates)})")
    finally:
        store.delete_collection("tiny")
        store.close()
        capped.close()


if __name__ == "__main__":
    main()
