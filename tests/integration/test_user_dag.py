"""A user's own DAG with the migration's task group, given explicit arguments, under real Airflow (``dag.test()``),
with OpenLineage configured as an operator would (Airflow's ``[openlineage]`` section, through the environment).

The DAG is the example of docs/using-in-your-dags.md, read from the page as written: the page cannot drift from what
runs here. It runs in its own process, as ``vectorops migrate`` and the concurrent-migration tests run theirs:
OpenLineage's Airflow plugin decides once per process whether it is on, and this test session's is off. One run
serves every test of the module (the user's tasks around the group, the Assets, the lineage event).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.support import add_records, chroma_client, chroma_digest, forget_collection, forget_schema, pg_digest
from vectorops.naming import table_name_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "using-in-your-dags.md"
DAG_ID = "articles_to_pgvector"
SCHEMA = "search"  # the example's target_schema
GROUP = "chroma_to_pgvector"  # the example's group id (the default)

RUN = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
run = bag.dags[sys.argv[2]].test()
print("RESULT", json.dumps({"state": str(run.state), "run_id": run.run_id}))
"""


def example_dag() -> str:
    """The page's one Python block."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "docs/using-in-your-dags.md holds one example DAG"
    return str(blocks[0])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's collection, and one it does not ask for; a space in the path, which the URIs quote."""
    path = tmp_path_factory.mktemp("chroma user dag")
    client = chroma_client(path)
    rng = np.random.default_rng(22)
    for name, rows in (("articles", 120), ("drafts", 10)):
        col = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}})
        add_records(col, [f"{name}-{i}" for i in range(rows)], rng.standard_normal((rows, 8), dtype=np.float32),
                    [f"{name} text {i}" for i in range(rows)], [{"i": i} for i in range(rows)])
    return path


@pytest.fixture(scope="module")
def user_run(store: Path, airflow_db: dict[str, str], dsn: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One ``dag.test()`` of the example: its store named by the Airflow Variable the example reads, OpenLineage's
    file transport on."""
    folder = tmp_path_factory.mktemp("user_dags")
    (folder / f"{DAG_ID}.py").write_text(example_dag(), encoding="utf-8")
    events_file = tmp_path_factory.mktemp("openlineage") / "events.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "VECTOROPS_DSN"}
    env.update({
        "AIRFLOW_VAR_ARTICLES_STORE": str(store),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events_file),
                                                       "append": True}),
        # dag.test() needs the DAG in a bundle: one for this folder next to the project's dags folder
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([
            {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
            {"name": "user-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
             "kwargs": {"path": str(folder)}}]),
    })
    proc = subprocess.run([sys.executable, "-c", RUN, str(folder), DAG_ID], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the last of Airflow's and OpenLineage's lines may come after it
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    yield {"folder": folder, "events": events, **result}
    forget_collection(dsn, "articles", SCHEMA)
    forget_schema(dsn, SCHEMA)


def _task_instances(run_id: str) -> list[Any]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = list(session.scalars(select(TaskInstance).where(TaskInstance.dag_id == DAG_ID,
                                                              TaskInstance.run_id == run_id)))
        session.expunge_all()
    return tis


def test_the_user_dag_migrates_the_asked_collection_between_its_own_tasks(user_run: dict[str, Any], store: Path,
                                                                          dsn: str) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    assert user_run["state"] == "success"
    tis = _task_instances(user_run["run_id"])
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in tis}
    assert set(states.values()) == {"success"}, states
    assert {task_id for task_id, _ in states} == {"refresh_store", "tell_search_service", *(
        f"{GROUP}.{t}" for t in ("plan_request", "prepare_collection", "list_chunks", "load_chunk",
                                 "finalize_collection", "summarize"))}
    # the user's tasks ran before and after the group: its root waited for refresh_store, its leaf came first
    ended, started = {ti.task_id: ti.end_date for ti in tis}, {ti.task_id: ti.start_date for ti in tis}
    assert ended["refresh_store"] <= started[f"{GROUP}.plan_request"]
    assert ended[f"{GROUP}.summarize"] <= started["tell_search_service"]
    with create_session() as session:
        told = XComModel.deserialize_value(session.scalars(select(XComModel).where(
            XComModel.dag_id == DAG_ID, XComModel.run_id == user_run["run_id"],
            XComModel.task_id == "tell_search_service", XComModel.key == "return_value")).one())
    table = table_name_for("articles")
    assert told == [f"{SCHEMA}.{table}"]
    assert chroma_digest(store, "articles") == pg_digest(dsn, SCHEMA, table)
    with psycopg.connect(dsn) as conn:  # only the collection asked for
        assert conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{table_name_for('drafts')}",)).fetchone() == (None,)
    dag = DagBag(dag_folder=str(user_run["folder"])).dags[DAG_ID]
    finalize = dag.task_dict[f"{GROUP}.finalize_collection"]
    assert finalize.pool == "vectorops_heavy" and finalize.retries >= 1 and finalize.on_failure_callback


def test_the_table_event_names_the_table_and_its_chroma_source_by_their_uris(user_run: dict[str, Any],
                                                                            store: Path, settings: Any) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = {e.asset.name: (e.asset.uri, e.source_task_id, e.extra) for e in session.scalars(
            select(AssetEvent).where(AssetEvent.source_run_id == user_run["run_id"]))}
    table = f"{SCHEMA}.{table_name_for('articles')}"
    assert set(events) == {f"vectorops.{table}", "vectorops.migrations"}
    uri, task_id, extra = events[f"vectorops.{table}"]
    # the postgres provider's URI: host and port of the DSN, then database/schema/table
    assert uri == f"postgres://127.0.0.1:{settings.db_port}/vectorops/{SCHEMA}/{table_name_for('articles')}"
    assert task_id == f"{GROUP}.finalize_collection"
    quoted = str(store).replace(" ", "%20")
    assert extra["source"] == f"chroma+file://localhost{quoted}/default_tenant/default_database/articles"
    assert extra["rows"] == 120 and extra["collection"] == "articles"
    assert events["vectorops.migrations"][0] == "vectorops.migrations"  # a name-only Asset


def test_openlineage_sees_the_chroma_collection_become_the_table_with_its_columns(
        user_run: dict[str, Any], store: Path, dsn: str, settings: Any) -> None:
    table = table_name_for("articles")
    source = ("chroma+file://localhost" + str(store).replace(" ", "%20"), "default_tenant/default_database/articles")
    target = (f"postgres://127.0.0.1:{settings.db_port}", f"vectorops.{SCHEMA}.{table}")
    events = user_run["events"]
    lineage = [e for e in events if any((d["namespace"], d["name"]) == source for d in e.get("inputs", []))]
    assert len(lineage) == 1, [(e["eventType"], e["job"]["name"]) for e in events]
    event = lineage[0]
    assert event["job"]["name"] == f"{DAG_ID}.{GROUP}.finalize_collection"
    [output] = event["outputs"]
    assert (output["namespace"], output["name"]) == target
    with psycopg.connect(dsn) as conn:  # the table as PostgreSQL describes it
        columns = conn.execute(
            """SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
                WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum""",
            (f"{SCHEMA}.{table}",)).fetchall()
    fields = [(f["name"], f["type"]) for f in output["facets"]["schema"]["fields"]]
    assert fields == columns
    assert fields == [("id", "text"), ("embedding", "vector(8)"), ("document", "text"), ("metadata", "jsonb"),
                      ("uri", "text")]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 120
    # the provider's own events of the task came too: the lineage is the task's, between its start and its end
    kinds = [e["eventType"] for e in events if e["job"]["name"] == event["job"]["name"]]
    assert kinds == ["START", "RUNNING", "COMPLETE"], kinds


def test_without_an_openlineage_transport_nothing_is_read_or_loaded(settings: Any,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    from dataclasses import replace

    from vectorops.airflow import lineage
    from vectorops.airflow.assets import source_asset

    # a target nothing listens on: reading its columns would log a warning
    nowhere = replace(settings, external_dsn="host=127.0.0.1 port=1 dbname=nowhere user=nobody connect_timeout=2")
    with caplog.at_level(logging.DEBUG, logger="vectorops.airflow.lineage"):
        lineage.emit_migration_lineage(nowhere, lineage.target_of(nowhere), source_asset("chroma+file:///s", "t/d/n"),
                                       "s.t", 1)
    assert [r for r in caplog.records if r.name == "vectorops.airflow.lineage"] == []
    assert "airflow.providers.openlineage.api" not in sys.modules


def test_request_arguments_and_request_from_params_exclude_each_other() -> None:
    import pendulum
    from airflow.sdk import DAG

    from vectorops.airflow.migration_group import chroma_to_pgvector_group

    with pytest.raises(ValueError, match=r"leave out collections, target_schema"):
        chroma_to_pgvector_group(request_from_params=True, collections=["docs"], target_schema="other")
    # a DAG without the request's Params would run every collection of the workers' store: refused at parse
    with (DAG("params_probe", start_date=pendulum.datetime(2026, 1, 1), schedule=None),
          pytest.raises(ValueError, match=r"needs the DAG to declare the Params chroma_path, chroma_host")):
        chroma_to_pgvector_group(request_from_params=True)


@pytest.mark.parametrize(("given", "instead"), [
    ('chroma_path="{{ var.value.articles_store }}",', 'chroma_conn_id="no_such_conn",'),
    # a template that renders to nothing is refused, not read as "every collection"
    ('collections=["articles"],', "collections=\"{{ var.value.get('no_such_var', '') }}\","),
], ids=["wrong-connection", "empty-template"])
def test_a_wrong_connection_id_fails_plan_request_alone_naming_it(given: str, instead: str, tmp_path: Path,
                                                                  airflow_db: dict[str, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    wrong = example_dag().replace(given, instead)
    assert instead in wrong
    (tmp_path / f"{DAG_ID}.py").write_text(wrong, encoding="utf-8")
    monkeypatch.setenv("AIRFLOW_VAR_ARTICLES_STORE", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {"name": "user-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(tmp_path)}}]))
    run = DagBag(dag_folder=str(tmp_path)).dags[DAG_ID].test()
    assert str(run.state) == "failed"
    tis = _task_instances(run.run_id)
    states = {ti.task_id: str(ti.state) for ti in tis}
    assert states.pop("refresh_store") == "success" and states.pop(f"{GROUP}.plan_request") == "failed"
    assert set(states.values()) <= {"upstream_failed", "skipped"}, states  # the user's own next task did not run
    assert states["tell_search_service"] == "upstream_failed"
    plan = next(ti for ti in tis if ti.task_id == f"{GROUP}.plan_request")
    assert plan.try_number == 1  # refused, not retried


def test_the_dags_default_args_win_over_vectorops_own_inside_the_group() -> None:
    import pendulum
    from airflow.sdk import DAG, TaskGroup

    from vectorops.airflow.migration_group import chroma_to_pgvector_group

    def users_callback(context: Any) -> None:
        """The user's own failure callback."""

    with DAG("defaults_probe", start_date=pendulum.datetime(2026, 1, 1), schedule=None,
             default_args={"retries": 0, "on_failure_callback": users_callback}) as dag:
        chroma_to_pgvector_group(chroma_path="/data/chroma", collections=["docs"])
        with TaskGroup("outer", default_args={"retries": 5}):
            chroma_to_pgvector_group("inner", chroma_path="/data/chroma", collections=["faq"])
    finalize = dag.get_task(f"{GROUP}.finalize_collection")
    assert (finalize.retries, finalize.on_failure_callback) == (0, users_callback)
    assert dag.get_task("outer.inner.finalize_collection").retries == 5
    with DAG("defaults_probe_bare", start_date=pendulum.datetime(2026, 1, 1), schedule=None) as bare:
        chroma_to_pgvector_group(chroma_path="/data/chroma", collections=["docs"])
    assert bare.get_task(f"{GROUP}.finalize_collection").retries >= 1  # vectorops' own retries where none is set


def test_the_index_build_goes_to_heavy_unless_default_args_or_the_call_name_a_queue() -> None:
    import pendulum
    from airflow.sdk import DAG, TaskGroup

    from vectorops.airflow.migration_group import chroma_to_pgvector_group

    def queues(dag: Any, group: str) -> tuple[str, str]:
        return dag.get_task(f"{group}.finalize_collection").queue, dag.get_task(f"{group}.load_chunk").queue

    with DAG("queue_probe_bare", start_date=pendulum.datetime(2026, 1, 1), schedule=None) as bare:
        chroma_to_pgvector_group(chroma_path="/data/chroma", collections=["docs"])
        chroma_to_pgvector_group("explicit", chroma_path="/data/chroma", collections=["faq"], queue="big")
    assert queues(bare, GROUP) == ("heavy", "default")
    assert queues(bare, "explicit") == ("big", "default")
    # a deployment whose workers serve a queue of its own: every task stays on it, the index build included
    with DAG("queue_probe_own", start_date=pendulum.datetime(2026, 1, 1), schedule=None,
             default_args={"queue": "gpu"}) as own:
        chroma_to_pgvector_group(chroma_path="/data/chroma", collections=["docs"])
        with TaskGroup("outer", default_args={"queue": "etl"}):
            chroma_to_pgvector_group("inner", chroma_path="/data/chroma", collections=["faq"])
        chroma_to_pgvector_group("moved", chroma_path="/data/chroma", collections=["x"], queue="heavy")
    assert queues(own, GROUP) == ("gpu", "gpu")
    assert queues(own, "outer.inner") == ("etl", "etl")
    assert queues(own, "moved") == ("heavy", "gpu")
