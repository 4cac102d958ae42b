"""Maintenance against the real server: invalid-index cleanup, VACUUM decisions, rebuilds, timeouts, the DAG."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support import add_records, chroma_client, migrate_in_process
from vectorops.maintenance import executor, planner
from vectorops.naming import table_name_for

SCHEMA = "maint"
ROWS = {"maint-cancel": 2000, "maint-vacuum": 5000, "maint-grow": 3000}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> dict[str, str]:
    path = tmp_path_factory.mktemp("chroma-maint")
    client = chroma_client(path)
    rng = np.random.default_rng(4)
    for name, rows in ROWS.items():
        col = client.create_collection(name, configuration={"hnsw": {"space": "l2"}})
        add_records(col, [f"{name}-{i:05d}" for i in range(rows)], rng.standard_normal((rows, 16), dtype=np.float32),
                    [f"doc {i}" for i in range(rows)], [{"group": i % 7} for i in range(rows)])
    migrate_in_process(settings, {"chroma_path": str(path), "collections": list(ROWS), "target_schema": SCHEMA},
                       "maint-setup")
    tables = {name: table_name_for(name) for name in ROWS}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in tables.values():  # autovacuum must not race the decisions under test
            conn.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(
                sql.Identifier(SCHEMA, table)))
    # as after every migration, the first maintenance run only takes the baseline (COPY counted as changes)
    with executor.connect(settings) as conn:
        first = executor.plan(conn, settings, list(ROWS))
        assert all(p.actions == [] and p.reset_baseline for p in first), [(p.actions, p.notes) for p in first]
        for table_plan in first:
            executor.run_plan(conn, table_plan, "maint-baseline")
    return tables


def _write(dsn: str, statement: sql.Composable) -> None:
    """Run a write and flush this backend's statistics, so maintenance sees them at once."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)
        conn.execute("SELECT pg_stat_force_next_flush()")


def _indexes(dsn: str, table: str) -> dict[str, bool]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {r[0]: r[1] for r in conn.execute(
            """SELECT i.relname, x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
               WHERE x.indrelid = to_regclass(%s)""", (f'{SCHEMA}."{table}"',))}


def _cancel_while_waiting(dsn: str, table: str, statement: sql.Composable) -> None:
    """Start ``statement`` (a concurrent index build), let it wait on a writer's lock half-way, then cancel it."""
    holder = psycopg.connect(dsn)
    holder.execute(sql.SQL("LOCK TABLE {} IN ROW EXCLUSIVE MODE").format(sql.Identifier(SCHEMA, table)))
    builder = psycopg.connect(dsn, autocommit=True)
    pid = builder.info.backend_pid
    errors: list[BaseException] = []

    def build() -> None:
        try:
            builder.execute(statement)
        except psycopg.Error as exc:
            errors.append(exc)

    thread = threading.Thread(target=build)
    thread.start()
    with psycopg.connect(dsn, autocommit=True) as admin:
        deadline = time.monotonic() + 30
        while admin.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                            (pid,)).fetchone() != ("Lock",):
            assert time.monotonic() < deadline, "the index build never waited for the writer"
            time.sleep(0.05)
        admin.execute("SELECT pg_cancel_backend(%s)", (pid,))
    thread.join(30)
    holder.rollback()
    holder.close()
    builder.close()
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled), errors


def _plan(settings: Any, collection: str, **maintenance: Any) -> planner.TablePlan:
    custom = dataclasses.replace(settings, maintenance=dataclasses.replace(settings.maintenance, **maintenance))
    with executor.connect(custom) as conn:
        (table_plan,) = executor.plan(conn, custom, [collection])
    return table_plan


def test_a_cancelled_reindex_leaves_an_invalid_index_that_the_next_run_removes(
        migrated: dict[str, str], settings: Any, dsn: str) -> None:
    table = migrated["maint-cancel"]
    index = f"{table}_hnsw"
    _cancel_while_waiting(dsn, table, sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(SCHEMA, index)))
    _cancel_while_waiting(dsn, table, sql.SQL("CREATE INDEX CONCURRENTLY maint_group_idx ON {} ((metadata->>'group'))"
                                              ).format(sql.Identifier(SCHEMA, table)))
    assert _indexes(dsn, table) == {f"{table}_pkey": True, index: True, f"{index}_ccnew": False,
                                    "maint_group_idx": False}

    table_plan = _plan(settings, "maint-cancel")
    assert [(a.kind, a.index) for a in table_plan.actions] == [
        ("drop_index", f"{index}_ccnew"), ("reindex", "maint_group_idx")]
    results = executor.maintain(settings, ["maint-cancel"], run_id="test-cancelled")

    assert [r.status for r in results] == ["done", "done"], [r.error for r in results]
    assert _indexes(dsn, table) == {f"{table}_pkey": True, index: True, "maint_group_idx": True}
    with psycopg.connect(dsn, autocommit=True) as conn:
        logged = conn.execute("""SELECT action, index_name, status, reason, duration_s FROM vectorops.maintenance_log
                                 WHERE run_id = 'test-cancelled' ORDER BY log_id""").fetchall()
    assert [(r[0], r[1], r[2]) for r in logged] == [("drop_index", f"{index}_ccnew", "done"),
                                                    ("reindex", "maint_group_idx", "done")]
    assert "REINDEX CONCURRENTLY" in logged[0][3] and all(r[4] is not None for r in logged)
    assert _plan(settings, "maint-cancel").actions == []


def test_vacuum_decisions_follow_dead_tuple_counts(migrated: dict[str, str], settings: Any, dsn: str) -> None:
    table = sql.Identifier(SCHEMA, migrated["maint-vacuum"])
    thresholds = {"vacuum_min_dead": 100, "vacuum_dead_ratio": 0.1}
    _write(dsn, sql.SQL("DELETE FROM {} WHERE id < 'maint-vacuum-00100'").format(table))  # 2% dead
    assert _plan(settings, "maint-vacuum", **thresholds).actions == []

    _write(dsn, sql.SQL("DELETE FROM {} WHERE id < 'maint-vacuum-01500'").format(table))  # 30% dead
    table_plan = _plan(settings, "maint-vacuum", **thresholds)
    kinds = [a.kind for a in table_plan.actions]
    assert kinds == ["reindex", "vacuum_analyze"]  # pgvector: REINDEX before VACUUM on HNSW tables
    assert table_plan.actions[1].reason.startswith("1,500 dead tuples, 30% of the table")
    assert "1,500 rows inserted, updated or deleted" in table_plan.actions[0].reason

    custom = dataclasses.replace(settings, maintenance=dataclasses.replace(settings.maintenance, **thresholds))
    with executor.connect(custom) as conn:
        results = executor.run_plan(conn, table_plan, "test-vacuum")
        dead = conn.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = to_regclass(%s)",
                            (table.as_string(conn),)).fetchone()[0]
        sizes = conn.execute("""SELECT table_bytes_before, table_bytes_after, index_bytes_before, index_bytes_after
                                FROM vectorops.maintenance_log WHERE run_id = 'test-vacuum' AND action = 'reindex'
                             """).fetchone()
    assert [r.status for r in results] == ["done", "done"], [r.error for r in results]
    assert dead == 0
    assert all(sizes) and sizes[3] < sizes[2]  # the rebuilt graph holds no deleted rows
    assert _plan(settings, "maint-vacuum", **thresholds).actions == []


def test_a_grown_table_is_reindexed_with_memory_sized_and_the_graph_notice_captured(
        migrated: dict[str, str], settings: Any, dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    name = migrated["maint-grow"]
    _write(dsn, sql.SQL("INSERT INTO {0} (id, embedding, document, metadata, uri) "
                        "SELECT id || '-copy', embedding, document, metadata, uri FROM {0} "
                        "WHERE id < 'maint-grow-01000'").format(sql.Identifier(SCHEMA, name)))
    table_plan = _plan(settings, "maint-grow")
    (rebuild,) = [a for a in table_plan.actions if a.kind == "reindex"]
    assert "built on 3,000 rows and the table now has 4,000 (+33%" in rebuild.reason
    assert rebuild.maintenance_work_mem_mb == 64 and rebuild.estimated_graph_mb

    tiny = dataclasses.replace(settings, max_maintenance_work_mem_mb=1)
    with executor.connect(tiny) as conn:
        (small_plan,) = executor.plan(conn, tiny, ["maint-grow"])
        results = executor.run_plan(conn, small_plan, "test-grow")
        health = conn.execute("""SELECT built_rows, rebuild_reason FROM vectorops.index_health
                                 WHERE table_schema = %s AND table_name = %s""", (SCHEMA, name)).fetchone()
    (done,) = [r for r in results if r.action.kind == "reindex"]
    assert done.status == "done" and done.details["maintenance_work_mem_mb"] == 1
    assert done.details["graph_exceeded_memory"] is True
    assert any("hnsw graph no longer fits into maintenance_work_mem" in r.getMessage() and "1 MB" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")
    assert health == (4000, None)
    assert [a.kind for a in _plan(settings, "maint-grow").actions] == []


def test_every_statement_runs_with_lock_and_statement_timeouts(migrated: dict[str, str], settings: Any,
                                                               dsn: str) -> None:
    name = migrated["maint-grow"]
    strict = dataclasses.replace(settings, maintenance=dataclasses.replace(
        settings.maintenance, lock_timeout_ms=200, statement_timeout_s=60))
    action = planner.Action(planner.ANALYZE, "maint-grow", SCHEMA, name, "test")
    with psycopg.connect(dsn) as locker, executor.connect(strict) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone() == ("200ms",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1min",)
        locker.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(SCHEMA, name)))
        started = time.monotonic()
        result = executor.run_action(conn, action, "test-timeout")
        waited = time.monotonic() - started
        locker.rollback()
        status = conn.execute("SELECT status, error FROM vectorops.maintenance_log WHERE log_id = %s",
                              (result.log_id,)).fetchone()
    assert result.status == "failed" and "LockNotAvailable" in (result.error or "")
    assert waited < 5
    assert status[0] == "failed" and "lock timeout" in status[1]
    with pytest.raises(executor.MaintenanceFailed, match="analyze maint"):
        executor.raise_for_failures([result])


def test_the_dag_rebuilds_a_flagged_index_on_its_schedule(migrated: dict[str, str], airflow_db: dict[str, str],
                                                         dsn: str) -> None:
    from vectorops.airflow.run import load_dag

    dag = load_dag("pgvector_maintenance")
    assert "AssetOrTimeSchedule" in type(dag.timetable).__name__
    assert "vectorops.validations" in repr(dag.timetable.asset_condition)
    assert dag.timetable.timetable.expression == "0 4 * * *"
    name = migrated["maint-cancel"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("""UPDATE vectorops.index_health SET rebuild_reason = 'recall@10 0.41 < 0.95 at ef_search 40',
                        rebuild_requested_at = now() WHERE table_schema = %s AND table_name = %s""", (SCHEMA, name))
    # Params: a dry run of the flagged table plans and logs only; a collection that was not migrated fails at once.
    # A DAG object per run: dag.test() runs tasks in-process, and Airflow writes a run's conf into the DAG's Params
    dry = load_dag("pgvector_maintenance").test(run_conf={"dry_run": True, "collections": ["maint-cancel"]})
    refused = load_dag("pgvector_maintenance").test(run_conf={"collections": ["maint-cancel", "no-such-collection"]})
    assert (str(dry.state), str(refused.state)) == ("success", "failed")
    assert _task_states(dry) == {"plan_maintenance": ("success", 1), "maintain_table": ("skipped", 0)}
    assert _task_states(refused)["plan_maintenance"] == ("failed", 1)  # not retried
    run = dag.test()
    assert str(run.state) == "success"
    with psycopg.connect(dsn, autocommit=True) as conn:
        dry_logged = conn.execute("SELECT count(*) FROM vectorops.maintenance_log WHERE run_id = ANY(%s)",
                                  ([str(dry.run_id), str(refused.run_id)],)).fetchone()
        logged = conn.execute("""SELECT action, status, reason FROM vectorops.maintenance_log
                                 WHERE run_id = %s AND table_name = %s""", (run.run_id, name)).fetchall()
        flag = conn.execute("""SELECT rebuild_reason FROM vectorops.index_health
                               WHERE table_schema = %s AND table_name = %s""", (SCHEMA, name)).fetchone()
    assert dry_logged == (0,)
    assert [(a, s) for a, s, _ in logged] == [("reindex", "done")]
    assert "search monitor asked for a rebuild: recall@10 0.41" in logged[0][2]
    assert flag == (None,)


def _task_states(run: Any) -> dict[str, tuple[str, int]]:
    """``{task_id: (state, try_number)}`` of a ``dag.test()`` run (a mapped task by its first instance)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        states: dict[str, tuple[str, int]] = {}
        for ti in sorted(run.get_task_instances(session=session), key=lambda t: t.map_index):
            states.setdefault(ti.task_id, (str(ti.state), ti.try_number))
    return states
