"""``vectorops compare``: Chroma against pgvector on the same data, through the store API services use.

Measures connection time, write / read / filtered-query throughput, p50 / p95 query latency with recall@10, and
reliability under N concurrent clients for T seconds; scores them (connection 20, write 25, read 25, query 20,
reliability 10) and grades each backend A+ to F (see ``scoring``). Then, unless asked not to, the concurrency
phase (``server_phase``): QPS and latency at recall@10 ≥ 0.95 with 1, 4 and 16 clients, pgvector against a
``chroma run`` server of its own, and their ratios (not scored). Everything is local and bounded; the Chroma
directories, the server and the PostgreSQL schema it writes are removed afterwards.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from vectorops.compare.dataset import Dataset
from vectorops.compare.measure import Backend, Options, measure_backend
from vectorops.compare.report import Report
from vectorops.compare.scoring import score
from vectorops.compare.server_phase import LoadOptions, measure_against_server

log = logging.getLogger(__name__)
SERVICE = "vectorops-compare"


def _chroma_backend(path: Path) -> Backend:
    from vectorops.store.chroma import ChromaStore, open_client

    def connect() -> None:
        client = open_client(path)
        client.heartbeat()
        client.list_collections()
        close = getattr(client, "close", None)
        if close is not None:
            close()  # the last reference stops Chroma's system: the next open starts from nothing

    return Backend("chroma", connect, lambda: ChromaStore(path))


def _postgres_backend(dsn: str, schema: str) -> Backend:
    from vectorops.store.postgres import PostgresStore

    def connect() -> None:
        store = PostgresStore(dsn, table_schema=schema, service=SERVICE)
        store.list_collections()
        store.close()

    return Backend("postgres", connect, lambda: PostgresStore(dsn, table_schema=schema, service=SERVICE))


def _cleanup(dsn: str, schema: str, collection: str, workdir: Path) -> None:
    from vectorops.db import ownership
    from vectorops.db.connect import connect as db_connect
    from vectorops.store.postgres import PostgresStore

    store = PostgresStore(dsn, table_schema=schema, service=SERVICE)
    try:
        if collection in store.list_collections():
            store.delete_collection(collection)
    finally:
        store.close()
    with db_connect(dsn, autocommit=True) as conn:
        if not ownership.drop_schema(conn, schema) and conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            log.warning("compare: schema %s was kept: it is not empty, or vectorops did not create it", schema)
    shutil.rmtree(workdir, ignore_errors=True)


def run_comparison(dsn: str, data: Dataset, options: Options, workdir: Path | None = None,
                   load: LoadOptions | None = None) -> Report:
    """Measure both backends on ``data`` and score them; then the concurrency phase, when ``load`` is given.

    :param dsn: PostgreSQL (with pgvector) to measure; a schema ``compare_<hex>`` is used and dropped.
    :param workdir: where the Chroma directories go (default a temporary directory); removed afterwards.
    :param load: the concurrency phase's client counts and bounds (``None``: no such phase).
    """
    started = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    collection, schema = f"compare-{tag}", f"compare_{tag}"
    root = Path(tempfile.mkdtemp(prefix="vectorops-compare-", dir=workdir))
    backends = [_chroma_backend(root / "chroma"), _postgres_backend(dsn, schema)]
    measurements = []
    concurrency = None
    try:
        for backend in backends:
            log.info("compare: measuring %s on %s", backend.name, data.name)
            measurements.append(measure_backend(backend, collection, data, options))
            if backend.name == "chroma":  # Chroma's memory is released before pgvector is measured
                backend.open_store().delete_collection(collection)
        if load is not None:
            log.info("compare: concurrency phase, clients %s", load.clients)
            concurrency = measure_against_server(dsn, schema, collection, data, root, load, SERVICE)
    finally:
        _cleanup(dsn, schema, collection, root)
    notes: list[str] = []
    if any(f is None for f in data.filters):
        notes.append("the data has no scalar metadata pair covering 1-50 % of records: 'filtered' queries ran "
                     "without a filter")
    return Report(data.name, data.rows, data.dimensions, len(data.queries), options, measurements,
                  score(measurements), time.perf_counter() - started, notes, concurrency)


def write_outputs(report: Report, html_path: Path, json_path: Path | None = None) -> None:
    """Write the HTML report (and the JSON figures when asked)."""
    import json

    from vectorops.compare.report import html_report

    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(html_report(report), encoding="utf-8")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
