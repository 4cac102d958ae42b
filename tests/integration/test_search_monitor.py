"""The search monitor against the real server: recall against exact search, alerts, advice, probe sets, the DAG."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from tests.alert_receivers import use_webhook
from tests.support import add_records, chroma_client, migrate_in_process, only_these_in_the_registry, registry_row

SCHEMA = "search_mon"
BIG, SMALL = "mon-recall", "mon-small"
EMPTY = "mon-empty"  # sorts before both: the monitor once stopped at it
BIG_ROWS, BIG_DIMS = 3000, 32
COLORS = ("red", "green", "blue", "amber")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, settings: Any) -> dict[str, Any]:
    """A 3,000 × 32 L2 collection with metadata, a 300 × 8 cosine one without, and an empty one, migrated into
    SCHEMA."""
    path = tmp_path_factory.mktemp("chroma-monitor")
    client = chroma_client(path)
    rng = np.random.default_rng(20)
    big = rng.standard_normal((BIG_ROWS, BIG_DIMS), dtype=np.float32)
    add_records(client.create_collection(BIG, configuration={"hnsw": {"space": "l2"}}),
                [f"r{i}" for i in range(BIG_ROWS)], big, [f"doc {i}" for i in range(BIG_ROWS)],
                [{"color": COLORS[i % 4], "n": i} for i in range(BIG_ROWS)])
    add_records(client.create_collection(SMALL, configuration={"hnsw": {"space": "cosine"}}),
                [f"s{i}" for i in range(300)], rng.standard_normal((300, 8), dtype=np.float32),
                [f"doc {i}" for i in range(300)])
    client.create_collection(EMPTY)
    params = {"chroma_path": str(path), "collections": [BIG, SMALL, EMPTY], "target_schema": SCHEMA}
    migrate_in_process(settings, params, "mon-setup")
    return {"path": path, "params": params, "big": big}


def _metrics(dsn: str, collection: str, run_id: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM vectorops.search_metrics WHERE collection = %s AND run_id = %s",
                          (collection, run_id)).fetchone()
    assert row is not None, (collection, run_id)
    return row


def _probes(dsn: str, collection: str) -> list[dict[str, Any]]:
    reg = registry_row(dsn, collection)
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("""SELECT record_id, attempt_id, created_at FROM vectorops.search_probes
                              WHERE table_schema = %s AND table_name = %s ORDER BY probe_no""",
                           (reg["table_schema"], reg["table_name"])).fetchall()


def _index_health(dsn: str, collection: str) -> dict[str, Any]:
    reg = registry_row(dsn, collection)
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM vectorops.index_health WHERE table_schema = %s AND table_name = %s",
                           (reg["table_schema"], reg["table_name"])).fetchone()


def _independent_recall(dsn: str, vectors: np.ndarray, probe_ids: list[str], ef_search: int,
                        metadata_filter: dict[str, str] | None = None) -> float:
    """Recall@10 of the HNSW index at ``ef_search`` against numpy's exact L2 top-10 (self excluded)."""
    reg = registry_row(dsn, BIG)
    allowed = np.ones(len(vectors), dtype=bool)
    where = sql.SQL("")
    if metadata_filter:
        allowed = np.array([COLORS[i % 4] == metadata_filter["color"] for i in range(len(vectors))])
        where = sql.SQL("WHERE metadata @> %s::jsonb ")
    query = sql.SQL("SELECT id FROM {} {}ORDER BY embedding <-> %s::vector LIMIT 11").format(
        sql.Identifier(reg["table_schema"], reg["table_name"]), where)
    hits = total = 0
    with psycopg.connect(dsn) as conn:
        for record_id in probe_ids:
            n = int(record_id[1:])
            distances = ((vectors - vectors[n]) ** 2).sum(axis=1)
            distances[n] = np.inf
            distances[~allowed] = np.inf
            exact = {f"r{i}" for i in np.argsort(distances)[:10]}
            literal = "[" + ",".join(repr(float(x)) for x in vectors[n]) + "]"
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search)))
                conn.execute("SET LOCAL enable_seqscan = off")
                if metadata_filter:
                    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                args = ([json.dumps(metadata_filter)] if metadata_filter else []) + [literal]
                found = [r[0] for r in conn.execute(query, args).fetchall() if r[0] != record_id][:10]
            hits += len(exact & set(found))
            total += len(exact)
    return hits / total


def test_the_dag_runs_every_15_minutes_one_run_at_a_time() -> None:
    from vectorops.airflow.run import load_dag

    dag = load_dag("pgvector_search_monitor")
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.timetable.expression == "*/15 * * * *"
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.dagrun_timeout < timedelta(minutes=15)
    assert dag.task_dict["probe_table"].on_failure_callback and dag.task_dict["probe_table"].retries >= 1


def test_the_monitor_records_recall_measured_against_exact_search(store: dict[str, Any], settings: Any,
                                                                   dsn: str) -> None:
    from vectorops.monitor import monitor_table

    measurement = monitor_table(settings, BIG, "mon-exact")
    row = _metrics(dsn, BIG, "mon-exact")
    reg = registry_row(dsn, BIG)
    assert row["ef_search"] == reg["hnsw_ef_search"] == measurement.ef_search  # Chroma's own ef_search
    assert (row["row_count"], row["probes"], row["index_name"], row["index_used"]) == (
        BIG_ROWS, 50, reg["index_name"], True)
    assert row["table_bytes"] > 0 and row["index_bytes"] > 0
    assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    probe_ids = [p["record_id"] for p in _probes(dsn, BIG)]
    assert row["recall_at_10"] == pytest.approx(_independent_recall(dsn, store["big"], probe_ids, row["ef_search"]),
                                                abs=1e-12)
    assert row["filter"] in [{"color": c} for c in COLORS]  # 25 % each; "n" values are unique
    assert row["details"]["filter_selectivity"] == pytest.approx(0.25, abs=0.05)
    assert row["filtered_recall_at_10"] == pytest.approx(
        _independent_recall(dsn, store["big"], probe_ids, row["ef_search"], row["filter"]), abs=1e-12)
    assert row["advised_recall"] >= 0.95 and row["advised_ef_search"] <= row["ef_search"]
    health = _index_health(dsn, BIG)
    assert (health["advised_ef_search"], health["rebuild_reason"]) == (row["advised_ef_search"], None)
    assert row["breaches"] == [] and not measurement.breaches
    # at a small ef_search the recall is below 1, and still exactly what an independent count finds
    low = dataclasses.replace(settings, monitor=dataclasses.replace(settings.monitor, ef_search=12))
    low_recall = monitor_table(low, BIG, "mon-exact-ef12").recall_at_10
    assert low_recall < 1.0
    assert low_recall == pytest.approx(_independent_recall(dsn, store["big"], probe_ids, 12), abs=1e-12)


def test_an_empty_collection_is_reported_and_the_tables_after_it_are_probed(
        store: dict[str, Any], dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main
    from vectorops.config import load_settings
    from vectorops.monitor import live_collections

    ours = [c for c in live_collections(load_settings()) if c in (EMPTY, BIG, SMALL)]
    assert ours == [EMPTY, BIG, SMALL]
    assert main(["monitor", *(arg for c in ours for arg in ("--collection", c))]) == 0
    out, err = capsys.readouterr()
    with psycopg.connect(dsn) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM vectorops.search_metrics WHERE collection = %s "
                                 "ORDER BY metric_id DESC LIMIT 1", (EMPTY,)).fetchone() or (None,)
    assert run_id and run_id.startswith("cli__"), run_id
    for collection in (BIG, SMALL):
        row = _metrics(dsn, collection, run_id)
        assert row["probes"] == 50 and row["p95_ms"] > 0 and row["recall_at_10"] is not None, collection
    empty = _metrics(dsn, EMPTY, run_id)
    assert (empty["probes"], empty["row_count"], empty["p95_ms"], empty["breaches"]) == (0, 0, None, [])
    assert empty["details"]["empty"] is True and "nothing to probe" in empty["details"]["reason"]
    empty_lines = [line for line in out.splitlines() if line.startswith(EMPTY)]
    assert len(empty_lines) == 1 and empty_lines[0].endswith("empty collection, not probed"), out
    assert "2 of 2 table(s) within thresholds" in out and "1 empty collection(s) not probed" in out, out
    assert "BREACH" not in err and "vectorops: error" not in err, err


def test_a_table_without_metadata_has_no_filtered_recall_and_says_why(store: dict[str, Any], settings: Any,
                                                                     dsn: str) -> None:
    from vectorops.monitor import monitor_table

    monitor_table(settings, SMALL, "mon-nometa")
    row = _metrics(dsn, SMALL, "mon-nometa")
    assert row["recall_at_10"] >= 0.95 and row["filter"] is None and row["filtered_recall_at_10"] is None
    assert row["details"]["filter_reason"] == "no sampled row has metadata"


def test_the_probe_set_is_reused_and_resampled_after_a_remigration(store: dict[str, Any], settings: Any,
                                                                    dsn: str) -> None:
    from vectorops.monitor import monitor_table

    first = monitor_table(settings, SMALL, "mon-reuse-1")
    before = _probes(dsn, SMALL)
    second = monitor_table(settings, SMALL, "mon-reuse-2")
    assert _probes(dsn, SMALL) == before and not second.details["probe_set"]["regenerated"]
    assert second.recall_at_10 == first.recall_at_10
    migrate_in_process(settings, store["params"] | {"collections": [SMALL]}, "mon-remigrate")
    attempt = registry_row(dsn, SMALL)["last_attempt_id"]
    assert attempt != before[0]["attempt_id"]
    third = monitor_table(settings, SMALL, "mon-reuse-3")
    after = _probes(dsn, SMALL)
    assert third.details["probe_set"]["regenerated"] and "migrated again" in third.details["probe_set"]["reason"]
    assert {p["attempt_id"] for p in after} == {attempt} and after[0]["created_at"] > before[0]["created_at"]
    assert [p["record_id"] for p in after] == [p["record_id"] for p in before]  # same seed, same data


def test_a_forced_recall_drop_alerts_flags_the_index_and_advises_an_ef_search(
        store: dict[str, Any], dsn: str, monkeypatch: pytest.MonkeyPatch, http_receiver: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli import main

    use_webhook(monkeypatch, http_receiver.url("/m"))
    assert main.main(["monitor", "--collection", BIG, "--ef-search", "1"]) == 1
    out = capsys.readouterr()
    assert BIG in out.out and "recall" in out.out and "BREACH" in out.err
    posts = [p.json() for p in http_receiver.posts]
    assert [(p["event"], p["collection"]) for p in posts] == [("search_recall_breach", BIG)]
    failed = posts[0]["failed_expectations"][0]
    assert failed["expectation"] == "recall_at_10 >= 0.95" and failed["observed"]["ef_search"] == 1
    assert failed["observed"]["recall_at_10"] < 0.5
    health = _index_health(dsn, BIG)
    assert health["rebuild_requested_at"] is not None
    assert "recall@10 was" in health["rebuild_reason"] and "ef_search 1 " in health["rebuild_reason"]
    assert health["advised_ef_search"] > 1 and health["advised_recall"] >= 0.95


def test_the_dag_probes_every_live_table_and_alerts_once_per_breach(
        store: dict[str, Any], airflow_db: dict[str, str], dsn: str, monkeypatch: pytest.MonkeyPatch,
        http_receiver: Any) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    use_webhook(monkeypatch, http_receiver.url("/dag"))
    monkeypatch.setenv("VECTOROPS_HNSW_EF_SEARCH", "1")
    # a run as scheduled (no Params: every live table) that meets only this module's tables, not the rest the suite
    # left in the shared database
    with only_these_in_the_registry(dsn, [EMPTY, BIG, SMALL]):
        run = load_dag("pgvector_search_monitor").test()
    assert str(run.state) == "failed"
    with create_session() as session:
        states = {ti.rendered_map_index: str(ti.state) for ti in run.get_task_instances(session=session)
                  if ti.task_id == "probe_table"}
    assert sorted(states) == sorted([EMPTY, BIG, SMALL])  # every live table, each in its mapped task
    assert states[BIG] == states[SMALL] == "failed"
    for collection in (BIG, SMALL):
        posts = [p.json() for p in http_receiver.posts if p.json().get("collection") == collection]
        assert [p["event"] for p in posts] == ["search_recall_breach"], posts  # the callback does not repeat it
        assert "/dags/pgvector_search_monitor/runs/" in posts[0]["run_url"]
        assert _metrics(dsn, collection, str(run.run_id))["ef_search"] == 1


@contextmanager
def _index_build_waiting(dsn: str, schema: str, name: str) -> Iterator[int]:
    """A ``CREATE INDEX CONCURRENTLY`` on the table held in progress (waiting for a writer's open transaction)
    for the ``with`` block; yields the builder's pid, then cancels it and drops the invalid index it leaves."""
    table = sql.Identifier(schema, name)
    holder = psycopg.connect(dsn)
    holder.execute(sql.SQL("LOCK TABLE {} IN ROW EXCLUSIVE MODE").format(table))
    builder = psycopg.connect(dsn, autocommit=True)
    pid = builder.info.backend_pid
    errors: list[BaseException] = []

    def build() -> None:
        try:
            builder.execute(sql.SQL("CREATE INDEX CONCURRENTLY mon_build_idx ON {} (id)").format(table))
        except psycopg.Error as exc:
            errors.append(exc)

    thread = threading.Thread(target=build)
    thread.start()
    try:
        with psycopg.connect(dsn, autocommit=True) as admin:
            deadline = time.monotonic() + 30
            while admin.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                (pid,)).fetchone() != ("Lock",):
                assert time.monotonic() < deadline, "the index build never waited for the writer"
                time.sleep(0.05)
        yield pid
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_cancel_backend(%s)", (pid,))
            thread.join(30)
            holder.rollback()
            admin.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(schema, "mon_build_idx")))
        holder.close()
        builder.close()
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled), errors


def test_a_measurement_during_an_index_build_is_recorded_as_such_and_not_alerted(
        store: dict[str, Any], settings: Any, airflow_db: dict[str, str], dsn: str, monkeypatch: pytest.MonkeyPatch,
        http_receiver: Any) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag
    from vectorops.monitor import monitor_table

    use_webhook(monkeypatch, http_receiver.url("/build"))
    reg = registry_row(dsn, SMALL)
    schema, table = reg["table_schema"], reg["table_name"]
    strict = dataclasses.replace(settings, monitor=dataclasses.replace(settings.monitor, max_p95_ms=0.001))
    dag = load_dag("pgvector_search_monitor")  # a DAG object per run: Airflow writes a run's conf into its Params
    flag = {k: _index_health(dsn, SMALL)[k] for k in ("rebuild_requested_at", "rebuild_reason")}
    with _index_build_waiting(dsn, schema, table) as builder:
        # the DAG with Params: one collection, a p95 limit no probe can meet; it probes as vectorops_monitor
        run = dag.test(run_conf={"collections": [SMALL], "max_p95_ms": 0.001})
        # as a role that sees every build (the session's superuser): the build is named
        seen = monitor_table(strict, SMALL, "mon-build-direct")
    assert str(run.state) == "success"
    with create_session() as session:
        probed = [ti.rendered_map_index for ti in run.get_task_instances(session=session)
                  if ti.task_id == "probe_table"]
    assert probed == [SMALL]  # the collections Param: the other live tables were not probed
    row = _metrics(dsn, SMALL, str(run.run_id))
    assert row["during_index_build"] is True and row["breaches"] == []
    assert [b["pid"] for b in row["details"]["index_builds"]] == [builder]
    assert [b["expectation"] for b in row["details"]["not_judged"]] == ["p95_ms <= 0.001"]
    assert http_receiver.posts == []  # measured during a build: no alert
    assert {k: _index_health(dsn, SMALL)[k] for k in flag} == flag  # and no rebuild request
    assert seen.during_index_build and seen.breaches == [] and seen.event is None
    (build,) = seen.details["index_builds"]
    assert (build["pid"], build["command"], build["on_this_table"]) == (builder, "CREATE INDEX CONCURRENTLY", True)
    assert f"CREATE INDEX CONCURRENTLY of {schema}." in seen.describe() and "not judged" in seen.describe()
    # the same limit with no build running: judged, and breached
    after = monitor_table(strict, SMALL, "mon-build-after")
    assert not after.during_index_build and [b["kind"] for b in after.breaches] == ["latency"]
    assert _metrics(dsn, SMALL, "mon-build-after")["during_index_build"] is False


def test_a_collection_param_naming_no_live_table_fails_the_run_at_once(
        store: dict[str, Any], airflow_db: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        http_receiver: Any) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    use_webhook(monkeypatch, http_receiver.url("/unknown"))
    run = load_dag("pgvector_search_monitor").test(run_conf={"collections": [SMALL, "no-such-collection"]})
    assert str(run.state) == "failed"
    with create_session() as session:
        (listed,) = [ti for ti in run.get_task_instances(session=session) if ti.task_id == "list_live"]
        assert (str(listed.state), listed.try_number) == ("failed", 1)  # not retried
    [alert] = [p.json() for p in http_receiver.posts]
    assert alert["task_id"] == "list_live" and "Param 'collections': 'no-such-collection' not found" in alert["message"]
