"""The Vector Health page: real PostgreSQL, real migrations, Airflow's own auth manager and API server app."""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.types.json import Jsonb

from tests.support import add_records, chroma_client, migrate_in_process
from vectorops.config import load_settings
from vectorops.db import runtime
from vectorops.db.bootstrap import bootstrap
from vectorops.db.sql_files import sql_text
from vectorops.web.page import EMPTY_MESSAGE
from vectorops.web.recovery_panel import ARCHIVE_OFF

SCHEMA, OTHER_SCHEMA = "web_health", "web_health_other"
DOCS, SMALL = "health-docs", "health-small"
RUN_ID = "manual__2025-01-02T03:04:05+00:00"
ENDPOINTS = ("/vector-health/", "/vector-health/api/collections", "/vector-health/api/recovery")
FAILED = "expect_column_values_to_not_be_null"
LEDGER_TIMINGS_GRANT = ("GRANT SELECT (attempt_id, loaded_count, quarantined_count, load_seconds, validate_seconds, "
                        "index_seconds, started_at, finished_at) ON vectorops.migration_runs TO vectorops_reader")
DURATION = r"(?:[0-9]+\.[0-9]+ s|[0-9]+ min [0-9]{2} s|[0-9]+ h [0-9]{2} min)"  # vectorops.web.cells.duration


@contextmanager
def ledger_timings_readable(dsn: str) -> Iterator[None]:
    """The reader role (the page's) reads the ledger's timing columns, as grant_platform_privileges.sql grants
    (:data:`LEDGER_TIMINGS_GRANT`); test_roles checks it reads no other column of migration_runs."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT has_column_privilege('vectorops_reader', 'vectorops.migration_runs', "
                            "'load_seconds', 'SELECT')").fetchone()[0]
    yield


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> Iterator[dict[str, Any]]:
    """Two migrated collections; DOCS also has search metrics, a failed live validation and verified backups."""
    path = tmp_path_factory.mktemp("chroma-health")
    client = chroma_client(path)
    rng = np.random.default_rng(5)
    add_records(client.create_collection(DOCS, configuration={"hnsw": {"space": "cosine"}}),
                [f"d{i}" for i in range(200)], rng.standard_normal((200, 8), dtype=np.float32),
                [f"doc {i}" for i in range(200)])
    add_records(client.create_collection(SMALL, configuration={"hnsw": {"space": "l2"}}),
                [f"s{i}" for i in range(40)], rng.standard_normal((40, 4), dtype=np.float32))
    for name, schema in ((DOCS, SCHEMA), (SMALL, OTHER_SCHEMA)):  # backups are of schemas: SMALL's has none
        migrate_in_process(settings, {"chroma_path": str(path), "collections": [name], "target_schema": schema},
                           RUN_ID)
    backups = [f"vh-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        table = conn.execute("SELECT table_name FROM vectorops.collection_registry WHERE collection = %s",
                             (DOCS,)).fetchone()[0]
        conn.execute(sql.SQL("DELETE FROM {} WHERE id IN ('d1', 'd2', 'd3')").format(sql.Identifier(SCHEMA, table)))
        for hours, p95, recall in ((3, 5.0, 0.97), (2, 9.5, None), (1, 6.25, 0.985)):
            conn.execute("""INSERT INTO vectorops.search_metrics (measured_at, run_id, collection, table_schema,
                                table_name, row_count, probes, p95_ms, recall_at_10)
                            VALUES (now() - make_interval(hours => %s), 'mon', %s, %s, %s, 197, 50, %s, %s)""",
                         (hours, DOCS, SCHEMA, table, p95, recall))
        for expectation, success in ((FAILED, False), ("expect_table_row_count_to_equal", True)):
            conn.execute("""INSERT INTO vectorops.validation_results (validation_id, validated_at, stage, collection,
                                table_schema, table_name, suite, expectation, success)
                            VALUES ('vh-live', now() + interval '1 minute', 'live', %s, %s, %s, 'live', %s, %s)""",
                         (DOCS, SCHEMA, table, expectation, success))
        for backup_id, status, minutes, schemas in ((backups[0], "verified", 30, [SCHEMA]),
                                                    (backups[1], "verified", 10, [SCHEMA, "vectorops"]),
                                                    (backups[2], "failed", 5, [SCHEMA]),
                                                    (backups[3], "verified", 1, ["elsewhere"])):
            conn.execute("""INSERT INTO vectorops.backups (backup_id, status, path, verified_at, details)
                            VALUES (%s, %s, '/tmp/none', now() - make_interval(mins => %s), %s)""",
                         (backup_id, status, minutes, json.dumps({"schemas": schemas})))
    with ledger_timings_readable(dsn):
        yield {"table": f"{SCHEMA}.{table}", "newest_backup": backups[1], "path": path}
    with psycopg.connect(dsn, autocommit=True) as conn:  # leave the shared registry as other modules expect it
        for name in ("collection_registry", "search_metrics", "validation_results", "migration_runs", "quarantine",
                     "sync_runs"):
            conn.execute(sql.SQL("DELETE FROM {} WHERE collection = ANY(%s)").format(
                sql.Identifier("vectorops", name)), ([DOCS, SMALL],))
        conn.execute("DELETE FROM vectorops.backups WHERE backup_id = ANY(%s)", (backups,))
        for schema in (SCHEMA, OTHER_SCHEMA):
            conn.execute("DELETE FROM vectorops.search_probes WHERE table_schema = %s", (schema,))
            conn.execute("DELETE FROM vectorops.index_health WHERE table_schema = %s", (schema,))
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="module")
def server(airflow_db: dict[str, str]) -> Iterator[TestClient]:
    """Airflow's own API server app (core API, auth manager, plugins), as ``airflow api-server`` builds it."""
    from airflow.api_fastapi.app import create_app, purge_cached_app

    with TestClient(create_app(apps="core")) as client:
        yield client
    purge_cached_app()


@pytest.fixture(scope="module")
def token(server: TestClient) -> str:
    """A JWT from the login endpoint of the auth manager (SimpleAuthManager), the one the UI uses."""
    response = server.post("/auth/token", json={"username": "admin", "password": "admin"})
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def anon(server: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The server without any cookie left over; run links on their default base (``http://localhost:8080``)."""
    for name in ("AIRFLOW__API__BASE_URL", "AIRFLOW_PORT"):
        monkeypatch.delenv(name, raising=False)
    server.cookies.clear()
    yield server
    server.cookies.clear()


def _role_token(role: str) -> str:
    """A JWT the auth manager signs for a simple-auth-manager user of ``role`` (viewer, user, op, admin)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from vectorops.airflow.web_auth import auth_manager

    return str(auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"health-{role}", role=role)))


def _get(client: TestClient, path: str, *, bearer: str | None = None, cookie: str | None = None) -> Any:
    """GET ``path`` with only the given credentials: a bearer header and/or the UI's ``_token`` cookie."""
    client.cookies.clear()
    if cookie is not None:
        client.cookies.set("_token", cookie)
    try:
        return client.get(path, headers={"Authorization": f"Bearer {bearer}"} if bearer is not None else None)
    finally:
        client.cookies.clear()


def _other_tokens(token: str) -> dict[str, str]:
    """Tokens Airflow must reject: garbage, another secret's signature, expired, tampered."""
    import jwt

    from vectorops.airflow.web_auth import auth_manager

    claims = jwt.decode(token, options={"verify_signature": False})
    user = auth_manager().deserialize_user(claims)
    header, payload, signature = token.split(".")
    return {
        "garbage": "not-a-jwt",
        "foreign": jwt.encode({**claims, "exp": claims["exp"] + 60}, "another-secret-" * 5, algorithm="HS512"),
        "expired": auth_manager().generate_jwt(user, expiration_time_in_seconds=-3600),
        "tampered": f"{header}.{payload}.{signature[:-4]}AAAA",
    }


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_and_bad_tokens_get_401(anon: TestClient, token: str, path: str) -> None:
    response = _get(anon, path)
    assert response.status_code == 401, response.text
    assert "data-collection" not in response.text
    if "/api/" not in path:  # the page offers Airflow's login, coming back here
        assert 'href="/auth/login?next=%2Fvector-health%2F"' in response.text
    for kind, bad in _other_tokens(token).items():
        assert _get(anon, path, bearer=bad).status_code == 401, kind
        assert _get(anon, path, cookie=bad).status_code == 401, kind
    # a bad bearer header wins over a good cookie, as in Airflow's own get_user
    assert _get(anon, path, bearer="not-a-jwt", cookie=token).status_code == 401


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_a_user_who_may_not_read_the_reader_connection_gets_403(anon: TestClient, migrated: dict[str, Any],
                                                                  role: str) -> None:
    token = _role_token(role)
    page = _get(anon, "/vector-health/", bearer=token)
    assert page.status_code == 403, page.text
    assert page.headers["content-type"].startswith("text/html") and 'id="forbidden-state"' in page.text
    assert f"health-{role} may not see Vector Health" in page.text and "vectorops_reader" in page.text
    assert "data-collection" not in page.text and DOCS not in page.text
    api = _get(anon, "/vector-health/api/collections", cookie=token)
    assert api.status_code == 403
    assert api.json() == {"detail": f"health-{role} may not see Vector Health: it shows what the Airflow connection "
                                    "'vectorops_reader' reads, and this user may not read that connection"}
    assert _get(anon, "/vector-health/api/recovery", bearer=token).status_code == 403


def test_an_op_sees_the_collections(anon: TestClient, migrated: dict[str, Any]) -> None:
    response = _get(anon, "/vector-health/api/collections", bearer=_role_token("op"))
    assert response.status_code == 200, response.text
    assert {DOCS, SMALL} <= {c["collection"] for c in response.json()["collections"]}


def test_page_shows_each_collection_with_its_live_row_count(anon: TestClient, token: str,
                                                           migrated: dict[str, Any]) -> None:
    response = _get(anon, "/vector-health/", bearer=token)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    docs_row = html.split(f'<tr data-collection="{DOCS}">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="rows">197</td>' in docs_row  # 200 migrated, 3 deleted since
    assert migrated["table"] in docs_row and "cosine" in docs_row and ">8<" in docs_row and "hnsw" in docs_row
    # no target: Airflow's plugin iframe allows neither top navigation nor popups, the link navigates the frame
    assert f'<a class="run-link" href="/dags/chroma_to_pgvector/runs/{quote(RUN_ID, safe="")}">' in docs_row
    assert "target=" not in html
    assert re.search(r'<span class="load-rate">load [0-9,]+ rows/s</span>', docs_row), docs_row
    assert re.search(rf'<span class="end-to-end">end to end {DURATION}</span>', docs_row), docs_row
    assert re.search(rf'<span class="muted time-split">load {DURATION}, gate {DURATION}, index {DURATION}</span>',
                     docs_row), docs_row
    assert '<span class="fail">fail</span>' in docs_row and f">{FAILED}<" in docs_row
    assert "expect_table_row_count_to_equal" not in docs_row
    assert migrated["newest_backup"] in docs_row
    assert "6.25 ms" in docs_row and "0.985" in docs_row
    small_row = html.split(f'<tr data-collection="{SMALL}">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="rows">40</td>' in small_row
    assert "no verified backup yet: run <code>pgvector_backup</code>" in small_row
    assert "no verified backup" not in docs_row
    assert '<span class="pass">pass</span>' in small_row  # the migration gate
    charts = html.split(f'data-collection-charts="{DOCS}"', 1)[1].split("</div>", 1)[0]
    assert charts.count("<svg") == 2 and charts.count("<polyline") >= 2
    assert "p95 latency" in charts and "recall@10" in charts
    assert "<script" not in html and "<link" not in html and " src=" not in html  # nothing loaded from elsewhere


def test_json_lists_the_same_collections_with_the_cookie(anon: TestClient, token: str,
                                                        migrated: dict[str, Any]) -> None:
    response = _get(anon, "/vector-health/api/collections", cookie=token)
    assert response.status_code == 200, response.text
    by_name = {c["collection"]: c for c in response.json()["collections"]}
    docs = by_name[DOCS]
    assert (docs["table"], docs["rows"], docs["dimensions"], docs["distance"]) == (migrated["table"], 197, 8, "cosine")
    assert docs["index"]["type"] == "hnsw" and docs["index"]["bytes"] > 0
    migration = docs["last_migration"]
    assert migration["run_id"] == RUN_ID and migration["rows_per_s"] > 0
    # the load rate divides the rows by the chunk loads' seconds only; rows_per_s by the whole attempt, gate included
    assert migration["load_rows_per_s"] == pytest.approx(200 / migration["load_seconds"])
    assert migration["load_rows_per_s"] > migration["rows_per_s"]
    assert migration["validate_seconds"] > 0 and migration["index_seconds"] > 0
    assert migration["end_to_end_seconds"] > migration["load_seconds"] + migration["validate_seconds"]
    assert docs["last_migration"]["run_url"].endswith(f"/dags/chroma_to_pgvector/runs/{quote(RUN_ID, safe='')}")
    assert docs["last_validation"]["success"] is False and docs["last_validation"]["failed_expectations"] == [FAILED]
    assert docs["last_backup"]["backup_id"] == migrated["newest_backup"]
    assert (docs["search"]["p95_ms"], docs["search"]["recall_at_10"]) == (6.25, 0.985)
    assert by_name[SMALL]["rows"] == 40 and by_name[SMALL]["search"] is None


def test_a_synced_collection_shows_its_state_lag_and_last_sync_counts(anon: TestClient, token: str, dsn: str,
                                                                     migrated: dict[str, Any]) -> None:
    from vectorops.chroma import locate
    from vectorops.chroma.source import SourceSpec
    from vectorops.sync.request import SyncRequest
    from vectorops.sync.run import SyncResult, sync_all

    request = SyncRequest(SourceSpec(path=str(migrated["path"])), (SMALL,), OTHER_SCHEMA, 50)
    locate.forget_files()
    assert all(isinstance(o, SyncResult) for o in sync_all(dsn, request))  # the first sync: state `syncing`
    collection = chroma_client(migrated["path"]).get_collection(SMALL)
    collection.add(ids=["n0", "n1"], embeddings=np.ones((2, 4), dtype=np.float32))
    collection.delete(ids=["s38", "s39"])  # 40 rows still, as the other tests expect
    [second] = sync_all(dsn, request)
    assert isinstance(second, SyncResult)
    by_name = {c["collection"]: c for c in _get(anon, "/vector-health/api/collections", bearer=token).json()[
        "collections"]}
    sync = by_name[SMALL]["sync"]
    assert (sync["state"], sync["read_point"], sync["lag_records"], sync["lag_seconds"]) == (
        "syncing", second.read_point, 0, 0.0)
    last = sync["last_sync"]
    assert (last["sync_id"], last["status"], last["added"], last["updated"], last["deleted"], last["quarantined"]) == (
        second.sync_id, "done", 2, 0, 2, 0)
    assert last["finished_at"] is not None and by_name[SMALL]["rows"] == 40
    assert by_name[DOCS]["sync"]["state"] == "migrated" and by_name[DOCS]["sync"]["last_sync"] is None
    html = _get(anon, "/vector-health/", bearer=token).text
    row = html.split(f'<tr data-collection="{SMALL}">', 1)[1].split("</tr>", 1)[0]
    assert '<span class="sync-state pass">syncing</span>' in row and f"read point {second.read_point}" in row
    assert '<span class="lag-records">0 record(s)</span>' in row and '<span class="lag-seconds">0.0 s</span>' in row
    assert "added 2, updated 0, deleted 2, quarantined 0" in row and '<span class="sync-status pass">done</span>' in row

    # a table left behind: seconds since the read point was taken, flagged above VECTOROPS_SYNC_MAX_LAG_S (900)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE vectorops.collection_registry SET changes_behind = 5, "
                     "read_point_at = now() - interval '20 minutes' WHERE collection = %s", (SMALL,))
    try:
        behind = next(c for c in _get(anon, "/vector-health/api/collections", bearer=token).json()["collections"]
                      if c["collection"] == SMALL)["sync"]
        assert behind["lag_records"] == 5 and 1200 <= behind["lag_seconds"] < 1300
        row = _get(anon, "/vector-health/", bearer=token).text.split(f'<tr data-collection="{SMALL}">', 1)[1]
        assert '<span class="lag-records">5 record(s)</span>' in row and '<span class="lag-seconds fail">1,2' in row
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("UPDATE vectorops.collection_registry SET changes_behind = 0 WHERE collection = %s",
                         (SMALL,))


def test_big_tables_show_the_planner_estimate(anon: TestClient, token: str, migrated: dict[str, Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.web import queries

    monkeypatch.setattr(queries, "EXACT_COUNT_LIMIT", 100)  # DOCS was analysed with 200 rows at migration
    docs = next(c for c in _get(anon, "/vector-health/api/collections", bearer=token).json()["collections"]
                if c["collection"] == DOCS)
    assert (docs["rows"], docs["rows_estimated"]) == (200, True)
    html = _get(anon, "/vector-health/", bearer=token).text
    assert "(row count estimated)" in html.split(f'<tr data-collection="{DOCS}">', 1)[1].split("</tr>", 1)[0]


@pytest.fixture
def empty_database(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database of the test server, without the vectorops schema; ``VECTOROPS_DSN`` points at it."""
    name = f"vh_empty_{uuid.uuid4().hex[:8]}"
    admin = runtime.dsn(settings, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = runtime.dsn(settings, name)
    monkeypatch.setenv("VECTOROPS_DSN", target)
    yield target
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_empty_state_before_any_migration(anon: TestClient, token: str, empty_database: str) -> None:
    for prepare, drills, says in (
            ("nothing", "no_table", "this database has no <code>vectorops.recovery_drills</code> table"),
            ("schema", "none", "no recovery drill yet: <code>pgvector_backup</code> runs one")):
        if prepare == "schema":  # what `vectorops db up` leaves: the tables and the roles' grants, no collection yet
            bootstrap(load_settings())
        page = _get(anon, "/vector-health/", bearer=token)
        assert page.status_code == 200, (prepare, page.text)
        assert EMPTY_MESSAGE in page.text and "data-collection" not in page.text
        api = _get(anon, "/vector-health/api/collections", bearer=token)
        assert (api.status_code, api.json()) == (200, {"collections": []})
        # the recovery section still shows: what the database holds of drills, and the session's server archives none
        section = _recovery_section(page.text, empty_database.rsplit("/", 1)[-1])
        assert says in section and ARCHIVE_OFF in section, section
        recovery = _get(anon, "/vector-health/api/recovery", bearer=token).json()["recovery"]
        assert (recovery["drills"]["state"], recovery["archive"]["state"]) == (drills, "off")


def test_database_down_is_a_503_naming_host_and_port_but_not_the_password(
        anon: TestClient, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    password = "Sup3r-secret-pw"
    monkeypatch.setenv("VECTOROPS_DSN", f"postgresql://vectorops:{password}@127.0.0.1:{port}/vectorops")
    page = _get(anon, "/vector-health/", bearer=token)
    assert page.status_code == 503
    assert "127.0.0.1" in page.text and str(port) in page.text and "unavailable" in page.text
    api = _get(anon, "/vector-health/api/collections", bearer=token)
    assert api.status_code == 503 and api.json()["database"] == {"host": "127.0.0.1", "port": str(port)}
    recovery = _get(anon, "/vector-health/api/recovery", bearer=token)
    assert recovery.status_code == 503 and recovery.json()["database"] == api.json()["database"]
    for body in (page.text, api.text, recovery.text):
        assert password not in body and "test-password" not in body


def test_plugin_is_discovered_with_its_app_and_view(server: TestClient, token: str) -> None:
    from airflow import plugins_manager, settings
    from airflow._shared.module_loading import find_path_from_directory

    scanned = [Path(p).name for p in find_path_from_directory(settings.PLUGINS_FOLDER, ".airflowignore")
               if p.endswith(".py")]
    assert scanned == []  # nothing from the plugins folder: the package's entry point brings the plugin
    plugins, errors = plugins_manager._get_plugins()
    assert not errors
    plugin = next(p for p in plugins if p.name == "vectorops_vector_health")
    assert type(plugin).__module__ == "vectorops.airflow.plugin"
    assert [(a["url_prefix"], a["name"]) for a in plugin.fastapi_apps] == [("/vector-health", "Vector Health")]
    assert plugin.external_views == [{"name": "Vector Health", "href": "/vector-health/", "destination": "nav",
                                      "url_route": "vector-health"}]  # opened inside the UI at /plugin/vector-health
    listed = _get(server, "/api/v2/plugins", bearer=token).json()["plugins"]
    entry = next(p for p in listed if p["name"] == "vectorops_vector_health")
    assert entry["fastapi_apps"][0]["url_prefix"] == "/vector-health"
    assert [(v["name"], v["href"], v["destination"]) for v in entry["external_views"]] == [
        ("Vector Health", "/vector-health/", "nav")]


@pytest.fixture(scope="module")
def monitor_dag_parsed(server: TestClient) -> None:
    """pgvector_search_monitor in the metadata database, written as Airflow's DAG processor writes it."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = next(b for b in manager.get_all_dag_bundles() if (Path(b.path) / "pgvector_search_monitor.py").exists())
    bag = BundleDagBag(dag_folder=str(Path(bundle.path) / "pgvector_search_monitor.py"), bundle_path=bundle.path,
                       bundle_name=bundle.name)
    assert "pgvector_search_monitor" in bag.dags, bag.import_errors
    sync_bag_to_db(bag, bundle.name, bundle.version)


def test_the_monitor_schedule_is_airflows(anon: TestClient, token: str, migrated: dict[str, Any],
                                          monitor_dag_parsed: None) -> None:
    """The schedule line says what Airflow's own REST API says of pgvector_search_monitor, never a cron expression
    of the page's own."""
    dag = _get(anon, "/api/v2/dags/pgvector_search_monitor", bearer=token)
    assert dag.status_code == 200, dag.text
    expected = dag.json()
    html = _get(anon, "/vector-health/", bearer=token).text
    line = html.split('<p id="monitor-schedule">', 1)[1].split("</p>", 1)[0]
    assert line.startswith("Measured by <code>pgvector_search_monitor</code>: ")
    assert f"<code>{expected['timetable_summary']}</code>" in line and expected["timetable_description"] in line
    if expected["is_paused"]:
        assert "paused: no run until it is unpaused in Airflow" in line
    else:
        due = datetime.fromisoformat(expected["next_dagrun_run_after"].replace("Z", "+00:00"))
        assert f"next run <time datetime=\"{due.isoformat()}\">{due.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in line


def test_without_the_ledger_grant_the_page_shows_the_registry_figure(anon: TestClient, token: str, dsn: str,
                                                                     migrated: dict[str, Any]) -> None:
    """A database whose reader may not read the ledger's timings still gets the page, with the registry's rows/s."""
    revoke = LEDGER_TIMINGS_GRANT.replace("GRANT", "REVOKE", 1).replace(" TO ", " FROM ")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(revoke)
    try:
        response = _get(anon, "/vector-health/", bearer=token)
        assert response.status_code == 200, response.text
        docs_row = response.text.split(f'<tr data-collection="{DOCS}">', 1)[1].split("</tr>", 1)[0]
        assert re.search(r'<span class="rows-per-s">[0-9,]+ rows/s</span>', docs_row) and "load-rate" not in docs_row
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(LEDGER_TIMINGS_GRANT)


def test_a_bad_days_parameter_is_one_line_naming_it(anon: TestClient, token: str) -> None:
    for value, why in (("0", "greater than or equal to 1"), ("91", "less than or equal to 90"), ("week", "integer")):
        page = _get(anon, f"/vector-health/?days={value}", bearer=token)
        assert page.status_code == 422 and page.headers["content-type"].startswith("text/html"), page.text
        error = page.text.split('<div class="error" id="request-error">', 1)[1].split("</div>", 1)[0]
        assert error.startswith("<p><strong>Bad request:</strong> days: Input should be ")
        assert why in error and f"(got &#x27;{value}&#x27;)" in error
    api = _get(anon, "/vector-health/api/collections?days=0", bearer=token)  # not a parameter of the API: ignored
    assert api.status_code == 200, api.text


def _recovery_section(html: str, database: str) -> str:
    return html.split(f'<section id="recovery" data-database="{database}">', 1)[1].split("</section>", 1)[0]


def _cell(html: str, css: str) -> str:
    return html.split(f'<td class="{css}">', 1)[1].split("</td>", 1)[0]


def record_drill(dsn: str, drill_id: str, status: str, **fields: Any) -> None:
    """A recovery drill's row, written by the drill's own SQL (backup/pitr/drill records it so)."""
    row = {"drill_id": drill_id, "started_at": datetime.now(UTC), "status": status, "backup_id": None,
           "target_lsn": None, "target_at": None, "base_backups": [], "recovery_seconds": None, "scratch_port": None,
           "tables": None, "total_rows": None, "archive_lag_seconds": None, "error": None,
           "details": Jsonb({"failures": []}), **fields}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql_text("backup/insert_recovery_drill"), row)


def test_recovery_shows_the_last_verified_drill_a_failed_one_after_it_and_archiving_off(
        anon: TestClient, token: str, dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "drill-s3cret-value"
    monkeypatch.setenv("VECTOROPS_TEST_DRILL_TOKEN", secret)  # a secret of the environment: hidden wherever it shows
    drills = [f"vh-drill-{uuid.uuid4().hex[:8]}-{n}" for n in range(3)]
    target = datetime(2026, 3, 1, 4, 5, tzinfo=UTC)
    record_drill(dsn, drills[0], "passed", backup_id="vh-old", target_at=target, recovery_seconds=99.0,
                 base_backups=["old-full"], archive_lag_seconds=9.0)
    record_drill(dsn, drills[1], "passed", backup_id="vh-backup", target_at=target, recovery_seconds=12.5,
                 base_backups=["20260301T000000Z-full", "20260301T030000Z-incr"], scratch_port=54999, tables=2,
                 total_rows=240, archive_lag_seconds=1.75)
    record_drill(dsn, drills[2], "failed", backup_id="vh-backup",
                 error=f"could not reach postgresql://vectorops:test-password@127.0.0.1/x ({secret})")
    try:
        recovery = _get(anon, "/vector-health/api/recovery", bearer=token).json()["recovery"]
        assert recovery["database"] == "vectorops" and recovery["drills"]["state"] == "recorded"
        verified, last = recovery["drills"]["verified"], recovery["drills"]["last"]
        assert (verified["drill_id"], verified["backup_id"], verified["recovery_seconds"], verified["rpo_seconds"],
                verified["base_backups"]) == (drills[1], "vh-backup", 12.5, 1.75,
                                              ["20260301T000000Z-full", "20260301T030000Z-incr"])
        assert datetime.fromisoformat(verified["target_at"]) == target
        assert (last["drill_id"], last["status"]) == (drills[2], "failed")
        assert "test-password" not in last["error"] and secret not in last["error"] and "***" in last["error"]
        # no WAL archive on the session's server: no point-in-time recovery, and drills that stop are not "stale"
        assert recovery["archive"]["state"] == "off" and recovery["archive"]["segments_waiting"] is None
        assert recovery["drills"]["stale"] is None

        page = _get(anon, "/vector-health/", bearer=token)
        assert page.status_code == 200, page.text
        section = _recovery_section(page.text, "vectorops")
        verified_cell = _cell(section, "verified-drill")
        assert '<span class="pass drill-status">passed</span>' in verified_cell
        assert re.search(r"recovered in 12\.5 s to <time[^>]*>2026-03-01 04:05 UTC</time>", verified_cell)
        assert "from 20260301T000000Z-full + 20260301T030000Z-incr; backup vh-backup" in verified_cell
        last_cell = _cell(section, "last-drill")
        assert '<span class="fail drill-status">failed</span>' in last_cell and "could not reach" in last_cell
        assert secret not in page.text and "test-password" not in page.text
        assert _cell(section, "rpo") == '<span class="rpo-drill">at the drill 1.8 s</span>'
        assert _cell(section, "wal-archive") == f'<span class="warn archive-off">{ARCHIVE_OFF}</span>'
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM vectorops.recovery_drills WHERE drill_id = ANY(%s)", (drills,))
