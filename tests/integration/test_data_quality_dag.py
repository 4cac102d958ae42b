"""The ``pgvector_data_quality`` DAG under real Airflow: scheduled on migration Assets, alerts once per failure."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.alert_receivers import use_webhook
from tests.support import add_records, chroma_client, migrate_in_process, only_these_in_the_registry
from vectorops.naming import table_name_for


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, settings: Any) -> list[str]:
    path = tmp_path_factory.mktemp("chroma-dq")
    client = chroma_client(path)
    rng = np.random.default_rng(9)
    names = ["dq-good", "dq-broken"]
    for name in names:
        col = client.create_collection(name, configuration={"hnsw": {"space": "l2"}})
        add_records(col, [f"{name}-{i}" for i in range(80)], rng.standard_normal((80, 8), dtype=np.float32),
                    [f"doc {i}" for i in range(80)], [{"i": i} for i in range(80)])
    migrate_in_process(settings, {"chroma_path": str(path), "collections": names, "target_schema": "dq"}, "dq-setup")
    return names


def test_the_dag_is_scheduled_daily_and_once_per_migration_run() -> None:
    from vectorops.airflow.run import load_dag

    dag = load_dag("pgvector_data_quality")
    timetable = dag.timetable
    assert "AssetOrTimeSchedule" in type(timetable).__name__
    assert timetable.timetable.expression == "30 3 * * *"
    # the one Asset a migration run's summarize updates once (not the per-table alias: one run per table)
    # a name-only Asset (a run finished, not data at a place): Airflow keeps its name as its URI
    assert (timetable.asset_condition.name, timetable.asset_condition.uri) == ("vectorops.migrations",
                                                                               "vectorops.migrations")
    assert "vectorops_migrated_tables" not in repr(timetable.asset_condition)
    assert dag.task_dict["validate_table"].on_failure_callback


def test_a_tampered_table_fails_its_mapped_task_and_alerts_once(
        migrated: list[str], airflow_db: dict[str, str], dsn: str, monkeypatch: pytest.MonkeyPatch,
        http_receiver: Any) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    use_webhook(monkeypatch, http_receiver.url("/dq"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = 'dq-broken-7'").format(
            sql.Identifier("dq", table_name_for("dq-broken"))))
    # a run as scheduled (no Params: every migrated table) that meets only this module's two, not the rest the suite
    # left in the shared database (a minute of validations in a full run)
    with only_these_in_the_registry(dsn, migrated):
        run = load_dag("pgvector_data_quality").test()
    assert str(run.state) == "failed"
    with create_session() as session:
        states = {ti.rendered_map_index: str(ti.state) for ti in run.get_task_instances(session=session)
                  if ti.task_id == "validate_table"}
    assert sorted(states) == sorted(migrated)  # every registered table, each in its mapped task
    assert states["dq-good"] == "success" and states["dq-broken"] == "failed"
    with create_session() as session:  # no maintenance after a failed validation: report did not run
        report = {str(ti.state) for ti in run.get_task_instances(session=session) if ti.task_id == "report"}
    assert report == {"upstream_failed"}
    with create_session() as session:
        events = {e.asset.name for e in session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id)}
    # a validation emits its own Asset: the table's would re-trigger this DAG, which is scheduled on it
    assert {e for e in events if ".dq." in e} == {f"vectorops.validated.dq.{table_name_for('dq-good')}"}
    assert all(e.startswith("vectorops.validated.") for e in events), events  # no vectorops.validations event
    posts = [p.json() for p in http_receiver.posts if str(p.json().get("collection")).startswith("dq-")]
    assert len(posts) == 1, posts  # the failure callback does not repeat the validation alert
    alert = posts[0]
    assert (alert["event"], alert["collection"], alert["dag_id"]) == ("validation_failed", "dq-broken",
                                                                      "pgvector_data_quality")
    assert "/dags/pgvector_data_quality/runs/" in alert["run_url"]
    failed = {f["expectation"]: f["observed"] for f in alert["failed_expectations"]}
    assert failed["row_count_equals_expected"] == 79


def test_great_expectations_logs_warnings_only(migrated: list[str]) -> None:
    """GX at INFO wrote ~300 lines per validation into task logs and the CLI; its own modules set some loggers to
    INFO, so the effective level of those is checked, not only the parent's."""
    from vectorops.quality import gx_import

    gx_import.load()
    for name in ("great_expectations", "great_expectations._docs_decorators",
                 "great_expectations.expectations.expectation", "great_expectations.data_context.types.base"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
