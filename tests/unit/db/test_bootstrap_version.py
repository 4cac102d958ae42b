"""A bootstrap of a database that already holds this code's schema runs none of its DDL, so it never waits for
(or deadlocks with) a sync or a migration writing the platform tables."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from vectorops.db.bootstrap import bootstrap, schema_sha256


def test_the_schema_version_is_recorded(settings: Any, dsn: str) -> None:
    bootstrap(settings)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT sha256 FROM vectorops.schema_version").fetchall() == [(schema_sha256(),)]


def test_a_second_bootstrap_does_not_wait_for_writers_of_the_platform_tables(settings: Any, dsn: str) -> None:
    bootstrap(settings)
    finished = threading.Event()
    with psycopg.connect(dsn) as writer:
        # what a sync batch holds until it commits; ALTER TABLE ... ADD COLUMN IF NOT EXISTS would wait for it
        writer.execute("LOCK TABLE vectorops.quarantine, vectorops.collection_registry IN ROW EXCLUSIVE MODE")
        worker = threading.Thread(target=lambda: (bootstrap(settings), finished.set()), daemon=True)
        worker.start()
        worker.join(timeout=60)
        assert finished.is_set(), "bootstrap waited for a transaction writing the platform tables"
        writer.rollback()
