"""An interrupted sync marks its run failed without waiting on the batch the interrupt left open on its own
connection (a clean-clone run once hung there: the new connection's update waited for the old one's row lock, and
every later writer of the registry row waited behind it)."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg

from vectorops.db.sql_files import sql_text
from vectorops.sync import run


def test_an_interrupted_run_is_marked_failed_though_its_batch_was_left_open(dsn: str) -> None:
    sync_id = f"sync-{uuid.uuid4().hex[:12]}"
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        conn.execute(sql_text("sync/insert_sync_run"), {"sync_id": sync_id, "collection": "interrupted-mark",
                                                        "kind": "sync", "from_point": 0})
        # a batch's transaction left open, holding the run's row, as an interrupt between statements leaves it
        conn.execute("BEGIN")
        conn.execute("UPDATE vectorops.sync_runs SET added = added + 1 WHERE sync_id = %s", (sync_id,))
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        done = threading.Event()
        clock = time.monotonic()
        marker = threading.Thread(target=lambda: (run._failed(conn, sync_id, 0.0, "interrupted (SIGINT)"),
                                                  done.set()), daemon=True)
        marker.start()
        marker.join(timeout=30)
        assert done.is_set(), "marking the run failed waited on its own open batch"
        assert time.monotonic() - clock < run.MARK_FAILED_LOCK_TIMEOUT_MS / 1000
    finally:
        conn.close()
    with psycopg.connect(dsn) as check:
        row = check.execute("SELECT status, added, error FROM vectorops.sync_runs WHERE sync_id = %s",
                            (sync_id,)).fetchone()
        check.execute("DELETE FROM vectorops.sync_runs WHERE sync_id = %s", (sync_id,))
        check.commit()
    assert row == ("failed", 0, "interrupted (SIGINT)")  # the open batch rolled back, the run marked failed
