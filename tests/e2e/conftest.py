"""The real platform for end-to-end tests: ``airflow standalone`` on a free port, the embedded PostgreSQL, a fresh
Chroma store, and the REST API v2 client the tests drive it with."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import requests
from psycopg import sql

from tests.e2e.processes import stop_session
from tests.support import add_records, chroma_client
from vectorops.airflow.env import airflow_environment
from vectorops.config import Settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DAG_ID = "chroma_to_pgvector"
# name → (distance space, rows); the REST test migrates the first two, the browser test the third.
COLLECTIONS: dict[str, tuple[str, int]] = {"e2e_docs": ("cosine", 300), "e2e_images": ("l2", 300),
                                           "e2e_faq": ("ip", 240)}
DIMENSIONS = 16
FINISHED = {"success", "failed"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Celery cluster's module first among the e2e tests: the standalone platform is package-scoped, so started
    before it, it would run beside the cluster until the package ends (two Airflows on two cores)."""
    here = Path(__file__).parent
    positions = [i for i, item in enumerate(items) if here in item.path.parents]
    ordered = sorted((items[i] for i in positions), key=lambda item: item.path.name != "test_celery.py")
    for i, item in zip(positions, ordered, strict=True):
        items[i] = item


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Platform:
    """A running ``airflow standalone`` and what the tests need to talk to it.

    :param base_url: root URL of the API server (UI, REST API v2, auth manager, plugins).
    :param user: login of the SimpleAuthManager admin.
    :param password: its password.
    :param viewer: login of a SimpleAuthManager ``viewer`` (read-only role), with ``viewer_password``.
    :param chroma_path: the Chroma store the workers read (``CHROMA_DB_PATH``).
    :param log_path: the standalone output.
    """

    base_url: str
    user: str
    password: str = field(repr=False)
    chroma_path: Path
    log_path: Path
    viewer: str = "e2e-viewer"
    viewer_password: str = field(default="", repr=False)
    rows: dict[str, int] = field(default_factory=dict)
    _token: str | None = field(default=None, repr=False)

    def token(self) -> str:
        """The admin's JWT from ``POST /auth/token`` (SimpleAuthManager), cached."""
        if self._token is None:
            self._token = self.login(self.user, self.password)
        return self._token

    def login(self, user: str, password: str) -> str:
        """A JWT from ``POST /auth/token`` (SimpleAuthManager) for ``user``."""
        resp = requests.post(f"{self.base_url}/auth/token", json={"username": user, "password": password}, timeout=30)
        assert resp.status_code == 201, f"login of {user} failed: {resp.status_code} {resp.text}"
        return str(resp.json()["access_token"])

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the REST API v2 (``path`` below ``/api/v2``) as the admin."""
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.base_url}/api/v2{path}", headers=headers, timeout=30, **kwargs)

    def wait_for_run(self, run_id: str, timeout_s: float = 180) -> dict[str, Any]:
        """Poll the DAG run until it finishes; fail with the task states when it does not succeed in time."""
        deadline = time.monotonic() + timeout_s
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            resp = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
            assert resp.status_code == 200, resp.text
            run = resp.json()
            if run["state"] in FINISHED:
                break
            time.sleep(2)
        states = {(ti["task_id"], ti["rendered_map_index"] or ti["map_index"]): ti["state"]
                  for ti in self.task_instances(run_id)}
        assert run.get("state") == "success", f"run {run_id} ended {run.get('state')!r}; tasks: {states}"
        return run

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run of the migration DAG, mapped ones included."""
        resp = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        assert resp.status_code == 200, resp.text
        return list(resp.json()["task_instances"])

    def log_tail(self, lines: int = 60) -> str:
        """The end of the standalone output, for failure messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _seed_store(path: Path) -> dict[str, int]:
    client = chroma_client(path)
    rng = np.random.default_rng(11)
    for name, (space, rows) in COLLECTIONS.items():
        collection = client.create_collection(name, configuration={"hnsw": {"space": space}},
                                              metadata={"embedding_model": "all-MiniLM-L6-v2"})
        vectors = rng.standard_normal((rows, DIMENSIONS), dtype=np.float32)
        if space == "ip":
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        add_records(collection, [f"{name}-{i:04d}" for i in range(rows)], vectors,
                    [f"{name} document {i}" for i in range(rows)], [{"i": i, "even": i % 2 == 0} for i in range(rows)])
    return {name: rows for name, (_, rows) in COLLECTIONS.items()}


def _wait_until_ready(platform: Platform, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    """Wait for a healthy scheduler behind ``/api/v2/monitor/health`` and for the DAG to be parsed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"airflow standalone exited with {proc.returncode}:\n{platform.log_tail()}"
        try:
            health = requests.get(f"{platform.base_url}/api/v2/monitor/health", timeout=5)
            if health.status_code == 200 and health.json()["scheduler"]["status"] == "healthy":
                if platform.api("GET", f"/dags/{DAG_ID}").status_code == 200:
                    return
        except requests.RequestException:
            pass
        time.sleep(2)
    raise AssertionError(f"Airflow did not become ready in {timeout_s:.0f}s:\n{platform.log_tail()}")


def _only_the_migration_dag_unpaused(platform: Platform) -> None:
    """Pause the scheduled DAGs: at start-up they would take a backup, run probes and maintenance in the shared
    test database (and could be killed half-way at teardown, leaving scratch databases behind)."""
    resp = platform.api("GET", "/dags", params={"limit": 100})
    assert resp.status_code == 200, resp.text
    for dag in resp.json()["dags"]:
        paused = dag["dag_id"] != DAG_ID
        if dag["is_paused"] != paused:
            update = platform.api("PATCH", f"/dags/{dag['dag_id']}", json={"is_paused": paused})
            assert update.status_code == 200, update.text


def _remove_e2e_data(dsn: str) -> None:
    """Drop the e2e schemas and every ``vectorops.*`` row about the e2e collections, so the tests that run after
    this package find the shared test database as they would without it."""
    with psycopg.connect(dsn) as conn:
        schemas = conn.execute(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'e2e\_%'").fetchall()
        for (schema,) in schemas:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        tables = conn.execute("SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t "
                              "USING (table_schema, table_name) WHERE c.table_schema = 'vectorops' "
                              "AND c.column_name = 'collection' AND t.table_type = 'BASE TABLE'").fetchall()
        for (table,) in tables:
            delete = sql.SQL("DELETE FROM {} WHERE collection = ANY(%s)").format(sql.Identifier("vectorops", table))
            conn.execute(delete, (list(COLLECTIONS),))


@pytest.fixture(scope="package")
def platform(settings: Settings, airflow_db: dict[str, str], dsn: str, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Platform]:
    """``airflow standalone`` against the session's embedded PostgreSQL, serving a fresh Chroma store.

    Shared by the e2e modules and stopped after the last of them, so no Airflow process outlives the package; what
    the runs wrote to the shared database is removed then too.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chroma_path = tmp_path_factory.mktemp("e2e-chroma")
    rows = _seed_store(chroma_path)
    port = str(_free_port())
    user, password = "e2e-admin", secrets.token_urlsafe(12)
    with pytest.MonkeyPatch.context() as mp:  # airflow_environment reads these (and writes the passwords file)
        mp.setenv("AIRFLOW_PORT", port)
        mp.setenv("VECTOROPS_ADMIN_USER", user)
        mp.setenv("VECTOROPS_ADMIN_PASSWORD", password)
        env = {**os.environ, **airflow_environment(settings), "CHROMA_DB_PATH": str(chroma_path),
               "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}
    airflow_environment(settings)  # the session's passwords file back to its own admin, which the call above replaced
    assert env["AIRFLOW__API__PORT"] == port and f":{port}/" in env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    # a read-only viewer beside the admin (Vector Health refuses it), in a passwords file of this session's own
    viewer, viewer_password = "e2e-viewer", secrets.token_urlsafe(12)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == f"{user}:admin"
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"{user}:admin,{viewer}:viewer"
    passwords = tmp_path_factory.mktemp("e2e-auth") / "passwords.json"
    passwords.write_text(json.dumps({user: password, viewer: viewer_password}))
    passwords.chmod(0o600)
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(passwords)
    log_path = ARTIFACTS / "airflow-standalone.log"
    airflow = Path(sys.executable).with_name("airflow")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(airflow), "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    running = Platform(base_url=f"http://127.0.0.1:{port}", user=user, password=password, chroma_path=chroma_path,
                       log_path=log_path, viewer=viewer, viewer_password=viewer_password, rows=rows)
    try:
        _wait_until_ready(running, proc)
        _only_the_migration_dag_unpaused(running)
        yield running
    finally:
        leftovers = stop_session(proc, log_path)
        _remove_e2e_data(dsn)
    assert not leftovers, f"processes of airflow standalone outlived the SIGTERM and SIGKILL of its group: {leftovers}"
