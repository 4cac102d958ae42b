"""The migration DAG driven through Airflow's REST API v2 on the real platform, and the plugin API's auth."""

from __future__ import annotations

import json
import re
import time

import psycopg
import pytest
import requests
from psycopg import sql

from tests.e2e.conftest import DAG_ID, DIMENSIONS, Platform
from tests.support import registry_row

COLLECTIONS = ["e2e_docs", "e2e_images"]
SCHEMA = "e2e_rest"
pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]


def test_rest_trigger_migrates_the_chosen_collections(platform: Platform, dsn: str) -> None:
    resp = platform.api("POST", f"/dags/{DAG_ID}/dagRuns",
                        json={"logical_date": None, "conf": {"collections": COLLECTIONS, "target_schema": SCHEMA}})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    assert resp.json()["conf"]["collections"] == COLLECTIONS

    run = platform.wait_for_run(run_id)

    # the run's note is its summary: a row per collection with read / loaded / quarantined, load rows/s, table
    note = run["note"] or ""
    total = sum(platform.rows[name] for name in COLLECTIONS)
    assert note.startswith(f"**Migrated** 2 collection(s): {total:,} rows loaded, 0 quarantined."), note
    assert "| collection | read | loaded | quarantined | load rows/s | table |" in note, note
    for name in COLLECTIONS:
        rows = f"{platform.rows[name]:,}"
        assert re.search(rf"^\| `{name}` \| {rows} \| {rows} \| 0 \| [\d,]+ \| `{SCHEMA}\.{name}` \|$", note,
                         re.MULTILINE), note
    instances = platform.task_instances(run_id)
    for task_id in ("prepare_collection", "finalize_collection"):
        mapped = {ti["rendered_map_index"]: ti["state"] for ti in instances if ti["task_id"] == task_id}
        assert mapped == {name: "success" for name in COLLECTIONS}, (task_id, mapped)
    # the LocalExecutor runs the index build though it is queued on "heavy": it has no queues
    assert {ti["queue"] for ti in instances if ti["task_id"] == "finalize_collection"} == {"heavy"}
    chunks = sorted(ti["rendered_map_index"] for ti in instances if ti["task_id"] == "load_chunk")
    assert chunks and {label.rsplit(" #", 1)[0] for label in chunks} == set(COLLECTIONS), chunks
    with psycopg.connect(dsn) as conn:
        for name in COLLECTIONS:
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, name))).fetchone()
            assert count == (platform.rows[name],), name
            dims = conn.execute(sql.SQL("SELECT vector_dims(embedding) FROM {} LIMIT 1").format(
                sql.Identifier(SCHEMA, name))).fetchone()
            assert dims == (DIMENSIONS,), name
        untouched = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
                                 "AND table_name = 'e2e_faq'", (SCHEMA,)).fetchone()
        assert untouched == (0,), "a collection that was not asked for was migrated"
    for name, distance in zip(COLLECTIONS, ("cosine", "l2"), strict=True):
        row = registry_row(dsn, name)
        assert (row["table_schema"], row["table_name"]) == (SCHEMA, name)
        assert (row["source_count"], row["loaded_count"], row["quarantined_count"]) == (platform.rows[name],) * 2 + (0,)
        assert (row["dimensions"], row["distance"]) == (DIMENSIONS, distance)


def test_anonymous_requests_are_refused(platform: Platform) -> None:
    plugin = requests.get(f"{platform.base_url}/vector-health/api/collections", timeout=30)
    assert plugin.status_code == 401, (plugin.status_code, plugin.text[:300])
    assert requests.get(f"{platform.base_url}/api/v2/dags/{DAG_ID}", timeout=30).status_code == 401
    bad_login = requests.post(f"{platform.base_url}/auth/token", timeout=30,
                              json={"username": platform.user, "password": platform.password + "-wrong"})
    assert bad_login.status_code == 401


def test_a_viewer_may_not_see_vector_health(platform: Platform) -> None:
    viewer = {"Authorization": f"Bearer {platform.login(platform.viewer, platform.viewer_password)}"}
    assert requests.get(f"{platform.base_url}/api/v2/dags/{DAG_ID}", headers=viewer, timeout=30).status_code == 200
    page = requests.get(f"{platform.base_url}/vector-health/", headers=viewer, timeout=30)
    assert page.status_code == 403, (page.status_code, page.text[:300])
    assert 'id="forbidden-state"' in page.text and "data-collection" not in page.text
    api = requests.get(f"{platform.base_url}/vector-health/api/collections", headers=viewer, timeout=30)
    assert api.status_code == 403, (api.status_code, api.text[:300])
    assert api.json()["detail"].startswith(f"{platform.viewer} may not see Vector Health")
    admin = requests.get(f"{platform.base_url}/vector-health/api/collections", timeout=30,
                         headers={"Authorization": f"Bearer {platform.token()}"})
    assert admin.status_code == 200, (admin.status_code, admin.text[:300])


def test_a_dry_run_writes_nothing_and_its_plan_becomes_the_run_note(platform: Platform, dsn: str) -> None:
    resp = platform.api("POST", f"/dags/{DAG_ID}/dagRuns", json={
        "logical_date": None, "conf": {"collections": ["e2e_docs"], "target_schema": "e2e_dry", "dry_run": True}})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    platform.wait_for_run(run_id)
    note = platform.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json()["note"] or ""
    assert note.startswith("**Dry run**: nothing was written. 1 collection(s)"), note
    assert f"`e2e_docs`: {platform.rows['e2e_docs']:,} rows, {DIMENSIONS} dims" in note, note
    states = {ti["task_id"]: ti["state"] for ti in platform.task_instances(run_id)}
    assert states.pop("plan_request") == "success" and set(states.values()) == {"skipped"}, states
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('e2e_dry')").fetchone() == (None,)


def test_an_unknown_collection_is_rejected_with_the_reason_in_the_run_note(platform: Platform) -> None:
    resp = platform.api("POST", f"/dags/{DAG_ID}/dagRuns",
                        json={"logical_date": None, "conf": {"collections": ["no_such_collection"]}})
    run_id = resp.json()["dag_run_id"]
    with pytest.raises(AssertionError):
        platform.wait_for_run(run_id)
    run = platform.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json()
    assert run["state"] == "failed"
    assert "**Rejected before any work**: unknown collection(s) 'no_such_collection'" in (run["note"] or ""), run


def _wait_finished(platform: Platform, run_id: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = platform.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json()
        if run["state"] in ("success", "failed"):
            return dict(run)
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} not finished in {timeout_s:.0f}s: {platform.task_instances(run_id)}")


def test_a_wrong_path_fails_within_30_s_with_plan_request_its_only_failed_task(platform: Platform) -> None:
    wrong = "/nonexistent/chroma store"
    started = time.monotonic()
    resp = platform.api("POST", f"/dags/{DAG_ID}/dagRuns",
                        json={"logical_date": None, "conf": {"chroma_path": wrong, "collections": COLLECTIONS}})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    run = _wait_finished(platform, run_id, timeout_s=60)
    elapsed = time.monotonic() - started
    assert run["state"] == "failed"
    assert elapsed < 30, f"the rejected run took {elapsed:.1f}s to fail"
    instances = platform.task_instances(run_id)
    failed = [(ti["task_id"], ti["try_number"]) for ti in instances if ti["state"] == "failed"]
    assert failed == [("plan_request", 1)], instances  # failed once: a wrong path is not retried
    others = {ti["task_id"]: ti["state"] for ti in instances if ti["task_id"] != "plan_request"}
    assert others and set(others.values()) <= {"upstream_failed", "skipped"}, others  # none ran, none is green
    assert wrong in (run["note"] or ""), run
    # the one alert: plan_request's failure callback; the tasks after it never ran, so they sent none
    log = platform.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/plan_request/logs/1",
                       params={"full_content": True}, headers={"Accept": "application/x-ndjson"})
    assert log.status_code == 200, log.text[:300]
    alerts = [str(json.loads(line).get("event")) for line in log.text.splitlines() if "vectorops alert" in line]
    assert len(alerts) == 1, log.text[-3000:]
    assert '"task_id": "plan_request"' in alerts[0] and wrong in alerts[0], alerts
