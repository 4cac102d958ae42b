"""Index builds cancelled half-way (pg_cancel_backend, statement_timeout, a killed maintenance run, a cancelled
migration build): no invalid index (``pg_index.indisvalid = false``) survives the next maintenance run.

``tests/integration/test_maintenance.py`` cancels builds while they wait for a lock, before any work. Here each
is stopped while pgvector is building the graph, including the cases that slipped through before: a
``_ccnew`` leftover that a promotion carries over to ``<name>__prev`` (maintenance only looked at live tables),
and a killed ``vectorops maintain`` whose REINDEX ran on for nobody.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.faults.ledger_watch import wait_for
from tests.support import (
    add_records,
    chroma_client,
    chroma_digest,
    forget_collection,
    forget_schema,
    migrate_in_process,
    pg_digest,
)
from vectorops.maintenance import executor
from vectorops.migration import steps
from vectorops.migration.request import request_from_params
from vectorops.naming import previous_name, table_name_for

SCHEMA = "cancelled"
LIVE, BUILD = "cancel-live", "cancel-build"
ROWS = {LIVE: 10_000, BUILD: 5_000}
BUILDING = "building index: loading tuples"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> Iterator[Path]:
    """Two collections whose HNSW builds take seconds (48 dims, m 16, ef_construction 256); LIVE migrated."""
    path = tmp_path_factory.mktemp("chroma-cancelled")
    rng = np.random.default_rng(8)
    for name, rows in ROWS.items():
        col = chroma_client(path).create_collection(name, configuration={"hnsw": {
            "space": "l2", "max_neighbors": 16, "ef_construction": 256}})
        add_records(col, [f"{name}-{i:05d}" for i in range(rows)], rng.standard_normal((rows, 48), dtype=np.float32),
                    [f"doc {i}" for i in range(rows)])
    migrate_in_process(settings, {"chroma_path": str(path), "collections": [LIVE], "target_schema": SCHEMA},
                       "cancelled-setup")
    yield path
    for name in ROWS:
        forget_collection(dsn, name, SCHEMA)
    forget_schema(dsn, SCHEMA)


def _invalid(dsn: str) -> set[tuple[str, str]]:
    """``(table, index)`` of every invalid index in the schema."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {(r[0], r[1]) for r in conn.execute(
            """SELECT t.relname, i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
               JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
               WHERE n.nspname = %s AND NOT x.indisvalid""", (SCHEMA,))}


def _building_pid(conn: psycopg.Connection, table_like: str) -> int | None:
    row = conn.execute("""SELECT p.pid FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.relid
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = %s AND c.relname LIKE %s AND p.phase = %s""",
                       (SCHEMA, table_like, BUILDING)).fetchone()
    return row[0] if row else None


def _cancel_mid_build(dsn: str, table_like: str, work: Callable[[], Any]) -> BaseException | None:
    """Run ``work`` in a thread, cancel the index build it starts on a table named like ``table_like`` while
    the graph is being built, and return what ``work`` raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    with psycopg.connect(dsn, autocommit=True) as admin:
        seen = wait_for(lambda: _building_pid(admin, table_like) or not thread.is_alive(), 120, 0.02)
        pid = _building_pid(admin, table_like)
        assert seen and pid, "the graph build was never seen running"
        assert admin.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone() == (True,)
    thread.join(120)
    return raised[0] if raised else None


def _reindex(dsn: str, table: str) -> Callable[[], None]:
    def run() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(SCHEMA, f"{table}_hnsw")))
    return run


def _logged(dsn: str, run_id: str) -> list[tuple[str, str, str, str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("""SELECT table_name, action, coalesce(index_name, ''), status
                               FROM vectorops.maintenance_log WHERE run_id = %s ORDER BY log_id""",
                            (run_id,)).fetchall()


def _request_rebuild(dsn: str, table: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("""UPDATE vectorops.index_health SET rebuild_reason = 'test: rebuild', rebuild_requested_at = now()
                        WHERE table_schema = %s AND table_name = %s""", (SCHEMA, table))


def test_cancelled_reindexes_on_the_live_and_the_previous_table_are_dropped_by_the_next_run(
        store: Path, settings: Any, dsn: str) -> None:
    table = table_name_for(LIVE)
    error = _cancel_mid_build(dsn, table, _reindex(dsn, table))
    assert isinstance(error, psycopg.errors.QueryCanceled), error
    assert _invalid(dsn) == {(table, f"{table}_hnsw_ccnew")}
    # a new migration promotes over it: the old live table, leftover and all, becomes <name>__prev
    migrate_in_process(settings, {"chroma_path": str(store), "collections": [LIVE], "target_schema": SCHEMA},
                       "cancelled-again")
    error = _cancel_mid_build(dsn, table, _reindex(dsn, table))
    assert isinstance(error, psycopg.errors.QueryCanceled), error
    prev = previous_name(table)
    assert _invalid(dsn) == {(prev, f"{table}_hnsw_ccnew"), (table, f"{table}_hnsw_ccnew1")}

    results = executor.maintain(settings, [LIVE], run_id="cancelled-next")
    assert [r.status for r in results] == ["done", "done"], [r.error for r in results]
    assert _invalid(dsn) == set()
    assert _logged(dsn, "cancelled-next") == [(table, "drop_index", f"{table}_hnsw_ccnew1", "done"),
                                              (prev, "drop_index", f"{table}_hnsw_ccnew", "done")]
    with executor.connect(settings) as conn:
        assert [p.actions for p in executor.plan(conn, settings, [LIVE])] == [[]]


def test_a_rebuild_stopped_by_statement_timeout_drops_its_leftover_at_once(store: Path, settings: Any,
                                                                           dsn: str) -> None:
    table = table_name_for(LIVE)
    _request_rebuild(dsn, table)
    strict = dataclasses.replace(settings, maintenance=dataclasses.replace(settings.maintenance,
                                                                           statement_timeout_s=1))
    (result,) = executor.maintain(strict, [LIVE], run_id="cancelled-timeout")
    assert result.status == "failed" and "statement timeout" in (result.error or ""), result.error
    assert result.details["dropped_leftovers"] == [f"{table}_hnsw_ccnew"]
    assert _invalid(dsn) == set()
    (again,) = executor.maintain(settings, [LIVE], run_id="cancelled-after-timeout")
    assert (again.action.kind, again.status) == ("reindex", "done"), again.error
    assert _invalid(dsn) == set()


def test_a_killed_maintenance_run_leaves_an_invalid_index_that_the_next_run_drops(
        store: Path, settings: Any, dsn: str) -> None:
    table = table_name_for(LIVE)
    _request_rebuild(dsn, table)
    proc = subprocess.Popen([sys.executable, "-m", "vectorops.cli", "maintain", "--collection", LIVE],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    with psycopg.connect(dsn, autocommit=True) as admin:
        assert wait_for(lambda: _building_pid(admin, table) or proc.poll() is not None, 120, 0.02)
        pid = _building_pid(admin, table)
        assert pid, f"the rebuild was never seen running (maintain exited {proc.returncode})"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.monotonic()
        assert wait_for(lambda: admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                        is None, 60, 0.05)
        assert time.monotonic() - killed < 2.5, "the killed run's REINDEX went on without its client"
    assert _invalid(dsn) == {(table, f"{table}_hnsw_ccnew")}

    results = executor.maintain(settings, [LIVE], run_id="cancelled-after-kill")
    assert [(r.action.kind, r.status) for r in results] == [("drop_index", "done"), ("reindex", "done")]
    assert _invalid(dsn) == set()
    with psycopg.connect(dsn, autocommit=True) as conn:
        killed_rows = conn.execute("""SELECT status, error FROM vectorops.maintenance_log
                                      WHERE table_name = %s AND run_id LIKE 'cli\\_\\_%%' AND action = 'reindex'""",
                                   (table,)).fetchall()
    assert killed_rows == [("failed", "interrupted: the maintenance session ended before the action finished")]


def test_a_cancelled_hnsw_build_in_a_migration_leaves_no_index_and_the_rerun_converges(
        store: Path, settings: Any, dsn: str) -> None:
    request = request_from_params({"chroma_path": str(store), "target_schema": SCHEMA}, settings)
    plan = steps.prepare(settings, request, BUILD, "cancelled-build")
    for chunk_no in plan.chunks:
        steps.load(settings, plan, chunk_no)
    error = _cancel_mid_build(dsn, plan.shadow, lambda: steps.finalize(settings, plan))
    assert isinstance(error, psycopg.errors.QueryCanceled), error
    assert _invalid(dsn) == set()
    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = conn.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
                               (sql.Identifier(SCHEMA, plan.shadow).as_string(conn),)).fetchall()
        status = conn.execute("SELECT status, error FROM vectorops.migration_runs WHERE attempt_id = %s",
                              (plan.attempt_id,)).fetchone()
    assert [i[0].split(".")[-1].strip('"') for i in indexes] == [f"{plan.shadow}_pkey"]
    assert status[0] == "failed" and "QueryCanceled" in status[1]

    (summary,) = migrate_in_process(settings, {"chroma_path": str(store), "collections": [BUILD],
                                               "target_schema": SCHEMA}, "cancelled-build")
    assert summary["attempt_id"] == plan.attempt_id and summary["index"] == "hnsw"
    assert chroma_digest(store, BUILD) == pg_digest(dsn, SCHEMA, table_name_for(BUILD))
    assert _invalid(dsn) == set()
    with executor.connect(settings) as conn:
        assert all(a.kind not in ("drop_index", "reindex") for p in executor.plan(conn, settings, [BUILD])
                   for a in p.actions)


def _hnsw_indexes(dsn: str, table: str) -> list[tuple[str, bool]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [tuple(r) for r in conn.execute(
            """SELECT i.relname, x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
               JOIN pg_am am ON am.oid = i.relam WHERE x.indrelid = %s::regclass AND am.amname = 'hnsw'
               ORDER BY i.relname""", (sql.Identifier(SCHEMA, table).as_string(conn),))]


def _foreign_invalid_duplicate(dsn: str, table: str) -> None:
    """A table vectorops did not create, with a valid index and an invalid duplicate of it: a
    ``CREATE INDEX CONCURRENTLY`` cancelled (statement_timeout) while it waits for an open writer."""
    target = sql.Identifier(SCHEMA, table)
    with psycopg.connect(dsn, autocommit=True) as admin, psycopg.connect(dsn) as writer:
        admin.execute(sql.SQL("CREATE TABLE {} (id int)").format(target))
        admin.execute(sql.SQL("CREATE INDEX {} ON {} (id)").format(sql.Identifier(f"{table}_id"), target))
        writer.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(target))  # left open: CIC waits for it
        admin.execute("SET statement_timeout = '1s'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            admin.execute(sql.SQL("CREATE INDEX CONCURRENTLY {} ON {} (id)").format(
                sql.Identifier(f"{table}_id_dup"), target))
        writer.rollback()


def _cancelled_duplicate_of_the_live_index(dsn: str, table: str, options: str | None = None) -> tuple[str, str]:
    """A second copy of the live HNSW index, built concurrently and cancelled mid-build: (live index, invalid copy).

    :param options: another ``WITH (...)`` for the copy (another ``m``: still a second graph of the same column).
    """
    live_index, duplicate = f"{table}_hnsw", f"{table}_embedding_idx"
    with psycopg.connect(dsn, autocommit=True) as conn:
        definition = str(conn.execute("SELECT pg_get_indexdef(%s::regclass)",
                                      (sql.Identifier(SCHEMA, live_index).as_string(conn),)).fetchone()[0])
    if options is not None:
        assert " WITH (" in definition, definition
        definition = definition.split(" WITH (", 1)[0] + f" WITH ({options})"
    # the same table, column, opclass and parameters as the live index: `... ON cancelled.cancel_live USING hnsw`
    build = sql.SQL("CREATE INDEX CONCURRENTLY {} ON ").format(sql.Identifier(duplicate)) + sql.SQL(
        definition.split(" ON ", 1)[1])

    def create_duplicate() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(build)

    error = _cancel_mid_build(dsn, table, create_duplicate)
    assert isinstance(error, psycopg.errors.QueryCanceled), error
    return live_index, duplicate


def test_a_cancelled_duplicate_hnsw_build_is_dropped_and_a_foreign_invalid_index_left_alone(
        store: Path, settings: Any, dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main

    table, foreign = table_name_for(LIVE), "not_ours"
    live_index, duplicate = _cancelled_duplicate_of_the_live_index(dsn, table)
    _foreign_invalid_duplicate(dsn, foreign)
    try:
        assert _invalid(dsn) == {(table, duplicate), (foreign, f"{foreign}_id_dup")}
        assert _hnsw_indexes(dsn, table) == [(duplicate, False), (live_index, True)]

        assert main(["maintain", "--collection", LIVE]) == 0
        out = capsys.readouterr().out
        assert f"invalid duplicate of the valid index {live_index}" in out, out
        assert _hnsw_indexes(dsn, table) == [(live_index, True)]  # one HNSW index, not a rebuilt second copy
        assert _invalid(dsn) == {(foreign, f"{foreign}_id_dup")}  # not on a table vectorops created: untouched
        with psycopg.connect(dsn, autocommit=True) as conn:
            (logged,) = conn.execute("""SELECT action, index_name, status FROM vectorops.maintenance_log
                                        WHERE table_name = %s AND index_name = %s""", (table, duplicate)).fetchall()
        assert logged == ("drop_index", duplicate, "done")
        with executor.connect(settings) as conn:
            assert all(a.kind not in ("drop_index", "reindex") for p in executor.plan(conn, settings, [LIVE])
                       for a in p.actions)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCHEMA, foreign)))


def test_the_maintenance_role_may_drop_a_cancelled_duplicate_and_nothing_else(store: Path, settings: Any,
                                                                              dsn: str) -> None:
    """The Airflow task maintains as ``vectorops_maint``, which drops only through ``vectorops.drop_invalid_index``."""
    from vectorops.db.dsn import role_dsn
    from vectorops.db.roles import MAINT

    table = table_name_for(LIVE)
    live_index, duplicate = _cancelled_duplicate_of_the_live_index(dsn, table)
    try:
        assert _hnsw_indexes(dsn, table) == [(duplicate, False), (live_index, True)]
        with psycopg.connect(role_dsn(settings, MAINT), autocommit=True) as maint:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the valid one is never dropped this way
                maint.execute("SELECT vectorops.drop_invalid_index(%s, %s)", (SCHEMA, live_index))
            assert maint.execute("SELECT vectorops.drop_invalid_index(%s, %s)", (SCHEMA, duplicate)).fetchone() == (
                True,)
        assert _hnsw_indexes(dsn, table) == [(live_index, True)]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(SCHEMA, duplicate)))


def test_a_cancelled_second_hnsw_build_with_other_options_is_dropped_too(store: Path, settings: Any, dsn: str,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main

    table = table_name_for(LIVE)
    live_index, duplicate = _cancelled_duplicate_of_the_live_index(dsn, table, options="m = 32, ef_construction = 64")
    try:
        assert _hnsw_indexes(dsn, table) == [(duplicate, False), (live_index, True)]
        assert main(["maintain", "--collection", LIVE]) == 0
        assert f"invalid duplicate of the valid index {live_index}" in capsys.readouterr().out
        assert _hnsw_indexes(dsn, table) == [(live_index, True)]  # not rebuilt into a second graph
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(SCHEMA, duplicate)))
