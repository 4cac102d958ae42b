"""A task retry of ``prepare`` after a failure, and two prepares creating the same new schema at once."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from vectorops.db.connect import connect
from vectorops.load import shadow
from vectorops.migration import claims, steps


def test_a_retry_in_the_same_run_restarts_a_failed_attempt_from_its_ledger(settings: Any, dsn: str) -> None:
    common = {"collection": "retry-me", "run_id": "retry-run", "fingerprint": "f", "target_schema": "retry_schema",
              "table_name": "retry_me", "source_uri": "chroma:///nowhere", "ttl_s": 600}
    with connect(dsn, autocommit=True) as conn:
        first = claims.claim(conn, **common)
    assert first.status == "scanning"
    steps.record_failure(settings, first.attempt_id, RuntimeError("the first try failed before staging"))
    with connect(dsn, autocommit=True) as conn:
        again = claims.claim(conn, **common)
        row = conn.execute("SELECT status, error FROM vectorops.migration_runs WHERE attempt_id = %s",
                           (first.attempt_id,)).fetchone()
        conn.execute("DELETE FROM vectorops.collection_claims WHERE collection = 'retry-me'")
        conn.execute("DELETE FROM vectorops.migration_runs WHERE collection = 'retry-me'")
    # not 'failed': a failed status made prepare skip the id scan and plan zero chunks
    assert (again.attempt_id, again.status) == (first.attempt_id, "scanning")
    assert row == ("scanning", None)


def test_two_prepares_may_create_the_same_new_schema_at_once(dsn: str) -> None:
    errors: list[BaseException] = []
    with psycopg.connect(dsn) as first, psycopg.connect(dsn) as second:
        shadow.create_schema(first, "race_schema")  # not committed yet

        def other_prepare() -> None:
            try:
                with second.transaction():
                    shadow.create_shadow(second, "race_schema", "race_shadow", 4)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_prepare)
        thread.start()
        time.sleep(1.0)  # the second prepare now waits for the first one's uncommitted schema
        first.commit()
        thread.join(30)
        exists = first.execute("SELECT to_regclass('race_schema.race_shadow') IS NOT NULL").fetchone()
        first.execute("DROP SCHEMA race_schema CASCADE")
        first.commit()
    assert errors == [] and exists == (True,)
