"""The real DAG under real Airflow (``dag.test()``), and the CLI that runs it in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.alert_receivers import use_webhook
from tests.support import add_records, chroma_client, chroma_digest, pg_digest, registry_row
from vectorops.naming import table_name_for


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma-dag")
    client = chroma_client(path)
    rng = np.random.default_rng(5)
    for name, space, rows in (("dag-docs", "cosine", 1200), ("dag_faq", "ip", 50), ("dag.images", "l2", 300)):
        col = client.create_collection(name, configuration={"hnsw": {"space": space}})
        add_records(col, [f"{name}-{i}" for i in range(rows)], rng.standard_normal((rows, 12), dtype=np.float32),
                    [f"{name} text {i}" for i in range(rows)], [{"i": i, "f": i / 3} for i in range(rows)])
    return path


def test_dag_test_migrates_every_collection_and_emits_asset_events(store: Path, airflow_db: dict[str, str],
                                                                    dsn: str) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel, DagScheduleAssetReference
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select, update

    from vectorops.airflow.run import load_dag

    with create_session() as session:  # Airflow queues runs for unpaused consumers only; the e2e package pauses it
        session.execute(update(DagModel).where(DagModel.dag_id == "pgvector_data_quality").values(is_paused=False))
    dag = load_dag("chroma_to_pgvector")
    run = dag.test(run_conf={"chroma_path": str(store), "target_schema": "dagtest", "batch_size": 500})
    assert str(run.state) == "success"
    for name in ("dag-docs", "dag_faq", "dag.images"):
        assert chroma_digest(store, name) == pg_digest(dsn, "dagtest", table_name_for(name))
        row = registry_row(dsn, name)
        assert row["last_run_id"] == run.run_id and row["table_schema"] == "dagtest"
    tables = sorted(f"dagtest.{table_name_for(n)}" for n in ("dag-docs", "dag_faq", "dag.images"))
    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == run.run_id)).all()
        names = sorted(e.asset.name for e in events)
        runs_event = [(e.source_task_id, e.extra) for e in events if e.asset.name == "vectorops.migrations"]
        labels = {ti.rendered_map_index for ti in run.get_task_instances(session=session)
                  if ti.task_id == "prepare_collection"}
        consumers = {(a.name, r.dag_id) for r, a in session.execute(
            select(DagScheduleAssetReference, AssetModel).join(AssetModel, DagScheduleAssetReference.asset_id
                                                               == AssetModel.id)).all()
                     if a.name.startswith("vectorops.")}
        queued = set(session.scalars(select(AssetModel.name).join(
            AssetDagRunQueue, AssetDagRunQueue.asset_id == AssetModel.id).where(
            AssetDagRunQueue.target_dag_id == "pgvector_data_quality")))
    # one event per table (lineage) and ONE for the run, on the Asset the data-quality DAG is scheduled on: a
    # migration of 3 collections queues one data-quality run, not one per table
    assert names == sorted([*(f"vectorops.{t}" for t in tables), "vectorops.migrations"])
    assert len(runs_event) == 1 and runs_event[0][0] == "summarize"
    assert runs_event[0][1]["tables"] == tables and runs_event[0][1]["run_id"] == run.run_id
    assert {dag_id for asset, dag_id in consumers if asset in names} == {"pgvector_data_quality"}
    assert {asset for asset, dag_id in consumers if dag_id == "pgvector_data_quality"} == {"vectorops.migrations"}
    assert queued == {"vectorops.migrations"}
    assert labels == {"dag-docs", "dag_faq", "dag.images"}


def _states(run: Any) -> dict[str, set[str]]:
    from airflow.utils.session import create_session

    states: dict[str, set[str]] = {}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            states.setdefault(ti.task_id, set()).add(str(ti.state))
    return states


def test_a_wrong_path_fails_plan_request_alone_at_once_with_one_alert(
        tmp_path: Path, airflow_db: dict[str, str], monkeypatch: pytest.MonkeyPatch, http_receiver: Any) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    use_webhook(monkeypatch, http_receiver.url("/wrong-path"))
    wrong = tmp_path / "no such store"
    run = load_dag("chroma_to_pgvector").test(run_conf={"chroma_path": str(wrong), "target_schema": "wrongpath"})
    assert str(run.state) == "failed"
    states = _states(run)
    assert states.pop("plan_request") == {"failed"}
    # nothing after it ran: no second failure (summarize used to crash on its None and be retried), nothing green
    assert all(s <= {"upstream_failed", "skipped"} for s in states.values()), states
    assert states["summarize"] == {"upstream_failed"} and states["list_chunks"] == {"upstream_failed"}
    with create_session() as session:
        tries = {ti.task_id: ti.try_number for ti in run.get_task_instances(session=session)}
    assert tries["plan_request"] == 1  # deterministic: not retried
    alerts = [p.json() for p in http_receiver.posts]
    assert len(alerts) == 1, alerts
    assert (alerts[0]["event"], alerts[0]["task_id"]) == ("task_failed", "plan_request")
    assert str(wrong) in alerts[0]["message"], alerts[0]


def test_dag_run_fails_for_an_unknown_collection(store: Path, airflow_db: dict[str, str], dsn: str) -> None:
    from vectorops.airflow.run import load_dag

    run = load_dag("chroma_to_pgvector").test(
        run_conf={"chroma_path": str(store), "collections": ["nope-not-here"], "target_schema": "dagfail"})
    assert str(run.state) == "failed"
    states = _states(run)
    assert states.pop("plan_request") == {"failed"}
    assert all(s <= {"upstream_failed", "skipped"} for s in states.values()), states
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'dagfail'").fetchone() == (0,)


def test_a_dry_run_skips_the_migration_tasks_and_succeeds(store: Path, airflow_db: dict[str, str], dsn: str) -> None:
    from vectorops.airflow.run import load_dag

    run = load_dag("chroma_to_pgvector").test(
        run_conf={"chroma_path": str(store), "collections": ["dag_faq"], "target_schema": "dagdry", "dry_run": True})
    assert str(run.state) == "success"
    states = _states(run)
    assert states.pop("plan_request") == {"success"}
    assert all(s == {"skipped"} for s in states.values()), states
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('dagdry')").fetchone() == (None,)


def test_a_store_without_collections_is_nothing_to_migrate(tmp_path: Path, airflow_db: dict[str, str]) -> None:
    from vectorops.airflow.run import load_dag

    empty = tmp_path / "empty-store"
    chroma_client(empty)  # a store Chroma created, holding no collection
    run = load_dag("chroma_to_pgvector").test(run_conf={"chroma_path": str(empty), "target_schema": "dagempty"})
    assert str(run.state) == "success"
    states = _states(run)
    assert states.pop("plan_request") == {"success"}
    assert all(s == {"skipped"} for s in states.values()), states


def test_cli_migrate_prints_summary_and_exits_zero(store: Path, airflow_db: dict[str, str], dsn: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main

    # dag_faq lives in schema dagtest too (an earlier test): the second schema is kept apart, explicitly
    code = main(["migrate", "--chroma-path", str(store), "--collection", "dag_faq", "--schema", "clitest",
                 "--previous-table", "keep"])
    out = capsys.readouterr().out
    assert code == 0, out
    line = next(line for line in out.splitlines() if line.startswith("dag_faq"))
    assert "promoted" in line and " 50 " in line and "ip" in line and "12" in line
    assert "rows/s" in out
    assert chroma_digest(store, "dag_faq") == pg_digest(dsn, "clitest", table_name_for("dag_faq"))


def test_cli_dry_run_writes_nothing_and_prints_the_plan(store: Path, dsn: str, settings: Any,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main

    with psycopg.connect(dsn) as conn:
        runs_before = conn.execute("SELECT count(*) FROM vectorops.migration_runs").fetchone()
    code = main(["migrate", "--chroma-path", str(store), "--schema", "dryrun", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    plans = {p["collection"]: p for p in json.loads(out.strip().splitlines()[-1])["plans"]}
    assert plans["dag-docs"]["rows"] == 1200 and plans["dag-docs"]["dimensions"] == 12
    assert plans["dag-docs"]["bytes"] > 1200 * 12 * 4 and plans["dag-docs"]["reembed_count"] == 0
    assert plans["dag-docs"]["index_memory_mb"] >= 1 and "MB" in plans["dag-docs"]["server_maintenance_work_mem"]
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.migration_runs").fetchone() == runs_before
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'dryrun'").fetchone() == (0,)


@pytest.mark.parametrize(("args", "message"), [
    (["--batch-size", "0"], "batch_size=0"),
    (["--reembed", "sometimes"], "reembed='sometimes'"),
    (["--schema", "x; DROP TABLE y"], "target_schema"),
    (["--collection", "missing-collection"], "missing-collection"),
])
def test_cli_rejects_bad_arguments_before_any_work(store: Path, settings: Any, args: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main

    code = main(["migrate", "--chroma-path", str(store), *args])
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_names_a_missing_chroma_path(tmp_path: Path, settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main

    missing = tmp_path / "nowhere"
    assert main(["migrate", "--chroma-path", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    (tmp_path / "notchroma").mkdir()
    assert main(["migrate", "--chroma-path", str(tmp_path / "notchroma")]) == 2
    assert "not a Chroma store" in capsys.readouterr().err


def test_one_failing_collection_does_not_stop_the_others_and_the_cli_exits_1(
        store: Path, dsn: str, settings: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        http_receiver: Any) -> None:
    from vectorops.cli.main import main
    from vectorops.migration import claims, steps
    from vectorops.migration import request as migration_request

    use_webhook(monkeypatch, http_receiver.url("/busy"))
    request = migration_request.request_from_params({"chroma_path": str(store), "target_schema": "isolated",
                                                     "previous_table": "keep"}, settings)
    with claims.owner_token_held(dsn):  # another live run holds dag.images
        steps.prepare(settings, request, "dag.images", "someone-else")
        # the CLI must take its own token, not inherit this one; popped, not monkeypatched, so that teardown does
        # not put this (by then dead) token back for later tests' child processes to inherit
        os.environ.pop("VECTOROPS_OWNER_TOKEN", None)
        code = main(["migrate", "--chroma-path", str(store), "--schema", "isolated", "--previous-table", "keep",
                     "--collection", "dag.images", "--collection", "dag-docs"])
    out = capsys.readouterr()
    assert code == 1
    assert "not promoted" in out.err
    docs_line = next(line for line in out.out.splitlines() if line.startswith("dag-docs"))
    images_line = next(line for line in out.out.splitlines() if line.startswith("dag.images"))
    assert "promoted" in docs_line and "promoted" not in images_line
    # why it was not migrated, under its row: the run that holds it
    assert any(line.strip().startswith("error: CollectionBusy") and "someone-else" in line
               for line in out.out.splitlines()), out.out
    assert chroma_digest(store, "dag-docs") == pg_digest(dsn, "isolated", table_name_for("dag-docs"))
    alerts = [p.json() for p in http_receiver.posts]  # the in-process run alerts as a failed task would
    assert [(a["event"], a["collection"], a["task_id"]) for a in alerts] == [
        ("migration_failed", "dag.images", "prepare")], alerts
    assert "someone-else" in alerts[0]["message"] and alerts[0]["run_id"].startswith("cli__"), alerts[0]
