"""Every DAG parses, carries tags and retries, and parses fast without heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
HEAVY = ("torch", "sentence_transformers", "chromadb", "great_expectations", "numpy", "psycopg", "pgvector")
# DAG files may import the shared default_args and the failure notifier: stdlib + airflow.sdk only
# the packages' __init__ modules hold only a docstring; airflow.connections, db.roles and errors: stdlib only
LIGHT_VECTOROPS = {"vectorops", "vectorops.airflow", "vectorops.alerts", "vectorops.db", "vectorops.airflow.assets",
                   "vectorops.airflow.defaults", "vectorops.airflow.notifier", "vectorops.alerts.send",
                   "vectorops.redaction", "vectorops.alerts.settings", "vectorops.airflow.secrets_masking",
                   "vectorops.config",
                   "vectorops.airflow.connections", "vectorops.db.roles", "vectorops.errors",
                   "vectorops.airflow.migration_group", "vectorops.airflow.pools",
                   "vectorops.airflow.scheduled_params", "vectorops.env_values", "vectorops.job_settings"}

PROBE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
heavy = sorted({m.split('.')[0] for m in set(sys.modules) - before} & set(sys.argv[2].split(',')))
ours = sorted(m for m in set(sys.modules) - before if m.split('.')[0] == 'vectorops')
dags = {d.dag_id: {"tags": sorted(d.tags), "fileloc": d.fileloc,
                   "retries": {t.task_id: t.retries for t in d.tasks}} for d in bag.dags.values()}
print(json.dumps({"seconds": seconds, "heavy": heavy, "ours": ours, "errors": bag.import_errors, "dags": dags}))
"""


@pytest.fixture(scope="module")
def parsed() -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(DAGS), ",".join(HEAVY)], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_import_errors(parsed: dict) -> None:
    assert parsed["errors"] == {}
    assert {Path(p).stem for p in DAGS.glob("*.py")} <= set(parsed["dags"])


def test_dag_ids_match_file_names_and_every_dag_has_tags_and_retries(parsed: dict) -> None:
    for dag_id, dag in parsed["dags"].items():
        assert Path(dag["fileloc"]).stem == dag_id
        assert "vectorops" in dag["tags"], dag_id
        assert dag["retries"] and all(r >= 1 for r in dag["retries"].values()), (dag_id, dag["retries"])


def test_parsing_is_fast_and_imports_nothing_heavy(parsed: dict) -> None:
    assert parsed["seconds"] < 2.0
    assert parsed["heavy"] == []
    assert set(parsed["ours"]) <= LIGHT_VECTOROPS, parsed["ours"]


def test_migration_dag_params_render_a_self_explaining_form() -> None:
    from vectorops.airflow.run import load_dag

    params = load_dag("chroma_to_pgvector").params
    assert params.get_param("reembed").schema["enum"] == ["never", "auto", "always"]
    for name in ("chroma_path", "chroma_port", "collections", "reembed", "target_schema", "batch_size"):
        schema = params.get_param(name).schema
        assert schema.get("section") and schema.get("description_md"), name
    # Airflow's form opens only its unnamed section ("Run Parameters"), first: Dry run is the first field, in it
    dry_run = params.get_param("dry_run").schema
    assert next(iter(params)) == "dry_run" and "section" not in dry_run and dry_run.get("description_md")
    # the form marks a field required unless its type admits null (Airflow's UI: schema.type without "null")
    for name in ("dry_run", "collections", "chroma_port", "chroma_path", "chroma_host", "chroma_conn"):
        assert "null" in params.get_param(name).schema["type"], name
    assert params["dry_run"] is False and params["collections"] == [] and params["chroma_port"] == 8000


def test_the_empty_path_help_shows_the_workers_chroma_db_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.airflow.run import load_dag

    def help_text() -> str:  # each load parses the file again, reading the environment as a worker would
        return str(load_dag("chroma_to_pgvector").params.get_param("chroma_path").schema["description_md"])

    monkeypatch.delenv("CHROMA_DB_PATH", raising=False)
    assert "`CHROMA_DB_PATH`, here `(not set)`" in help_text()
    monkeypatch.setenv("CHROMA_DB_PATH", "/srv/chroma odd-path")
    assert "`CHROMA_DB_PATH`, here `/srv/chroma odd-path`" in help_text()


def test_a_rejected_request_stops_at_plan_request_and_the_chain_runs_on_one_event_per_run() -> None:
    from vectorops.airflow.run import load_dag

    migration = load_dag("chroma_to_pgvector")
    rules = {t.task_id: getattr(t.trigger_rule, "value", t.trigger_rule) for t in migration.tasks}
    # plan_request's failure leaves these upstream_failed (not green, not run): see the DAG file's comments
    assert rules == {"plan_request": "all_success", "prepare_collection": "all_success",
                     "list_chunks": "all_done_min_one_success", "load_chunk": "all_success",
                     "finalize_collection": "all_done", "summarize": "none_failed"}, rules
    assert {t.task_id for t in migration.tasks if not t.downstream_list} == {"summarize"}
    assert [o.name for o in migration.task_dict["summarize"].outlets] == ["vectorops.migrations"]
    quality, maintenance = load_dag("pgvector_data_quality"), load_dag("pgvector_maintenance")
    # scheduled on the one Asset a run updates once, not on the per-table alias (one run per migration run)
    assert "vectorops.migrations" in repr(quality.timetable.asset_condition)
    assert "vectorops_migrated_tables" not in repr(quality.timetable.asset_condition)
    assert [o.name for o in quality.task_dict["report"].outlets] == ["vectorops.validations"]
    assert quality.task_dict["report"].trigger_rule == "none_failed_min_one_success"
    assert "vectorops.validations" in repr(maintenance.timetable.asset_condition)
    assert "vectorops_validated_tables" not in repr(maintenance.timetable.asset_condition)


def test_sync_dag_runs_every_5_minutes_one_run_at_a_time_with_the_migration_source_params() -> None:
    from vectorops.airflow.run import load_dag

    sync, migration = load_dag("chroma_sync"), load_dag("chroma_to_pgvector")
    assert type(sync.timetable).__name__ == "CronTriggerTimetable" and sync.timetable.expression == "*/5 * * * *"
    assert sync.max_active_runs == 1 and sync.catchup is False
    for name in ("chroma_path", "chroma_host", "chroma_port", "chroma_conn", "collections", "batch_size"):
        assert sync.params.get_param(name).schema["type"] == migration.params.get_param(name).schema["type"], name
    for name in ("chroma_path", "chroma_host", "chroma_port", "chroma_conn", "collections", "target_schema",
                 "batch_size", "cutover"):
        schema = sync.params.get_param(name).schema
        assert schema.get("section") and schema.get("description_md"), name
    defaults = {name: sync.params[name] for name in sync.params}
    assert defaults["cutover"] is False and defaults["collections"] == [] and defaults["target_schema"] is None
    assert defaults["chroma_path"] is None and defaults["chroma_conn"] is None
    mapped = sync.task_dict["sync_collection"]
    assert mapped.on_failure_callback and mapped.retries >= 1


SCHEDULED = ("pgvector_maintenance", "pgvector_search_monitor", "pgvector_backup", "pgvector_data_quality",
             "chroma_sync")


def test_scheduled_dags_take_todays_settings_as_param_defaults_and_heavy_tasks_use_the_pool(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import ParamValidationError
    from airflow.serialization.serialized_objects import DagSerialization

    from vectorops.airflow.pools import HEAVY_POOL, HEAVY_QUEUE
    from vectorops.airflow.run import load_dag

    monkeypatch.setenv("VECTOROPS_VACUUM_DEAD_RATIO", "0.25")
    monkeypatch.setenv("VECTOROPS_MONITOR_MAX_P95_MS", "80")
    monkeypatch.setenv("VECTOROPS_BACKUP_KEEP", "3")
    monkeypatch.delenv("VECTOROPS_HNSW_EF_SEARCH", raising=False)
    monkeypatch.delenv("VECTOROPS_SYNC_MAX_LAG_S", raising=False)
    dags = {dag_id: load_dag(dag_id) for dag_id in SCHEDULED}
    defaults = {dag_id: {name: dag.params[name] for name in dag.params} for dag_id, dag in dags.items()}
    assert {k: defaults["pgvector_maintenance"][k] for k in ("dry_run", "collections", "vacuum_dead_ratio",
                                                             "reindex_churn_ratio")} == {
        "dry_run": False, "collections": [], "vacuum_dead_ratio": 0.25, "reindex_churn_ratio": 0.2}
    assert defaults["pgvector_search_monitor"] == {"collections": [], "max_p95_ms": 80.0, "min_recall": 0.95,
                                                   "ef_search": None}
    assert defaults["pgvector_backup"] == {"keep": 3, "retention_days": 30.0, "max_age_hours": 26.0}
    assert defaults["pgvector_data_quality"] == {"collections": []}
    assert defaults["chroma_sync"]["max_lag_s"] == 900.0
    for dag_id, dag in dags.items():
        assert dag.max_active_runs == 1, dag_id
        for name in dag.params:
            assert dag.params.get_param(name).schema.get("description_md"), (dag_id, name)
    pooled = {(dag_id, t.task_id) for dag_id, dag in dags.items() for t in dag.tasks if t.pool == HEAVY_POOL}
    assert pooled == {("pgvector_maintenance", "maintain_table"), ("pgvector_backup", "verify_backup"),
                      ("pgvector_backup", "drill_recovery")}
    # the same tasks on the Celery queue "heavy", and every other task on Airflow's default queue
    dags["chroma_to_pgvector"] = load_dag("chroma_to_pgvector")
    queues = {(dag_id, t.task_id): t.queue for dag_id, dag in dags.items() for t in dag.tasks}
    heavy = {key for key, queue in queues.items() if queue == HEAVY_QUEUE}
    assert heavy == pooled | {("chroma_to_pgvector", "finalize_collection")}, heavy
    assert {queues[key] for key in set(queues) - heavy} == {"default"}
    assert dags["chroma_to_pgvector"].get_task("finalize_collection").pool == HEAVY_POOL
    # a bad value is refused when the run is created (as create_dagrun checks the form's or the API's conf), naming it
    for dag_id, conf in (("pgvector_search_monitor", {"min_recall": 1.5}), ("pgvector_maintenance", {"dry_run": "yes"}),
                         ("pgvector_backup", {"keep": 0}), ("pgvector_data_quality", {"collections": "docs"})):
        scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dags[dag_id]))
        with pytest.raises(ParamValidationError, match=f"Invalid input for param {next(iter(conf))}"):
            scheduler_dag.params.deep_merge(conf).validate()


def test_an_unusable_setting_fails_the_parse_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.airflow.run import load_dag

    monkeypatch.setenv("VECTOROPS_MONITOR_MIN_RECALL", "most")
    with pytest.raises(RuntimeError, match="import errors") as refused:
        load_dag("pgvector_search_monitor")
    assert "SettingError: VECTOROPS_MONITOR_MIN_RECALL=" in str(refused.value)  # the import error names it
    assert "most" in str(refused.value) and "is not a number" in str(refused.value)


@pytest.mark.parametrize(("name", "value", "says"), [("VECTOROPS_TASK_RETRIES", "abc", "is not a whole number"),
                                                     ("VECTOROPS_RETRY_DELAY_S", "-5", "must be at least 0")])
def test_an_unusable_retry_setting_fails_the_parse_naming_the_variable(name: str, value: str, says: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.airflow.run import load_dag

    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match="import errors") as refused:
        load_dag("chroma_to_pgvector")
    text = str(refused.value)
    assert f"SettingError: {name}=" in text and says in text and value in text, text
