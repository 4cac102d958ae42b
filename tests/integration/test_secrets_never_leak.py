"""Secrets never leak: distinctive values in every credential, all five DAGs run, every log and artifact scanned.

The database roles' passwords (their ``AIRFLOW_CONN_VECTOROPS_*``), the webhook URL and the Slack token (their alert
connections), the SMTP and the REST API connections each get a secret ``s3cr3t-<what>-<random>``. The DAGs then run
under real Airflow (``dag.test()``): a migration, a rejected migration (run note and alert), a data-quality run on a
tampered table (alert), a search-monitor run with a breach (alert), maintenance with a rebuild, and a verified backup.
Then every file under the Airflow home and ``VECTOROPS_HOME`` (logs, Data Docs, GX project), the backups, Airflow's
metadata database (run notes, XComs, task logs' metadata), the ``vectorops.*`` tables, the server's statement
statistics, the alerts the receivers got, the notes sent to the API, the Vector Health page and the test's own output
are searched for every secret. Each DAG's connections to the vectors database are also checked to be its role's.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.alert_receivers import HttpReceiver, SmtpHandler, free_port, smtp_uri, use_slack, use_webhook
from tests.support import add_records, chroma_client
from vectorops.config import load_settings
from vectorops.db import runtime
from vectorops.db.bootstrap import bootstrap
from vectorops.db.dsn import connection_env
from vectorops.db.roles import ETL, MAINT, MONITOR, READER, ROLES
from vectorops.naming import table_name_for

SCHEMA = "leaktest"
COLLECTIONS = ("leak-docs", "leak-faq")
TOKEN = secrets.token_hex(8)
SECRETS = {name: f"s3cr3t-{name}-{TOKEN}" for name in (*ROLES, "webhook", "slack", "smtp", "api")}
SECRETS[ETL] = f"s3cr3t/etl@{TOKEN} x%"  # characters a URL must encode: redacted raw and encoded
DAG_ROLES = {"chroma_to_pgvector": {ETL}, "pgvector_data_quality": {MONITOR}, "pgvector_search_monitor": {MONITOR},
             "pgvector_maintenance": {MAINT}, "pgvector_backup": {MAINT}}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma-leak")
    client = chroma_client(path)
    rng = np.random.default_rng(17)
    for name in COLLECTIONS:
        col = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}})
        add_records(col, [f"{name}-{i}" for i in range(120)], rng.standard_normal((120, 8), dtype=np.float32),
                    [f"{name} text {i}" for i in range(120)], [{"i": i} for i in range(120)])
    return path


@contextmanager
def _only_our_collections(dsn: str) -> Iterator[None]:
    """The scheduled DAGs work on every registered collection: set the other modules' aside meanwhile."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.cursor().copy("COPY (SELECT * FROM vectorops.collection_registry) TO STDOUT (FORMAT binary)") as cp:
            saved = b"".join(bytes(block) for block in cp)
        conn.execute("DELETE FROM vectorops.collection_registry")
    try:
        yield
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM vectorops.collection_registry")
            with conn.cursor().copy("COPY vectorops.collection_registry FROM STDIN (FORMAT binary)") as cp:
                cp.write(saved)


@pytest.fixture
def smtp_with_login() -> Iterator[tuple[SmtpHandler, int]]:
    """An SMTP server that takes any login over plain SMTP (the alert logs in with the secret password)."""
    handler, port = SmtpHandler(), free_port()

    def accept(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=True, auth_data=auth_data)

    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=accept, auth_require_tls=False)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def seeded(settings: Any, dsn: str, store: Path, http_receiver: HttpReceiver, smtp_with_login: tuple[SmtpHandler, int],
           airflow_db: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The secrets in the environment and on the roles; notes sent to the API recorded; our collections alone."""
    from vectorops.airflow import run_note

    notes: list[dict[str, Any]] = []

    def fake_api(url: str, method: str, body: dict[str, object], token: str | None = None) -> dict[str, object]:
        notes.append({"url": url, "method": method, "body": body})
        return {"access_token": "t"}

    with pytest.MonkeyPatch.context() as patch, _only_our_collections(dsn):
        for role in ROLES:
            patch.setenv(connection_env(role),
                         f"postgresql://{role}:{quote(SECRETS[role], safe='')}@127.0.0.1:{settings.db_port}/vectorops")
        use_webhook(patch, http_receiver.url(f"/hooks/{SECRETS['webhook']}"), "leak_webhook")
        use_slack(patch, http_receiver.url("/services"), SECRETS["slack"], "leak_slack")
        patch.setenv("AIRFLOW_CONN_LEAK_SMTP", smtp_uri(smtp_with_login[1], f"alerts:{SECRETS['smtp']}@"))
        patch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "leak_smtp")
        patch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com")
        patch.setenv("AIRFLOW_CONN_VECTOROPS_API", f"http://admin:{SECRETS['api']}@127.0.0.1:{free_port()}")
        patch.setattr(run_note, "_request", fake_api)
        patch.setenv("VECTOROPS_BACKUP_DIR", str(tmp_path / "backups"))
        patch.setenv("VECTOROPS_MONITOR_MAX_P95_MS", "0.001")  # every probe breaches: an alert with measurements
        patch.setenv("VECTOROPS_TASK_RETRIES", "0")
        patch.delenv("CHROMA_DB_PATH", raising=False)
        bootstrap(load_settings())  # the roles' passwords are now the seeded secrets
        try:
            yield {"notes": notes, "backups": tmp_path / "backups"}
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
                for name in ("migration_runs", "quarantine", "validation_results", "search_metrics",
                             "collection_claims"):
                    conn.execute(sql.SQL("DELETE FROM {} WHERE collection = ANY(%s)").format(
                        sql.Identifier("vectorops", name)), (list(COLLECTIONS),))
                for name in ("search_probes", "index_health", "maintenance_log"):
                    conn.execute(sql.SQL("DELETE FROM {} WHERE table_schema = %s").format(
                        sql.Identifier("vectorops", name)), (SCHEMA,))
                conn.execute("DELETE FROM vectorops.backups WHERE path LIKE %s", (f"{tmp_path}%",))
    bootstrap(load_settings())  # the roles' local passwords again, for the modules after this one


def _record_connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """``(database, user)`` of every psycopg connection from now on (ours, GX's and Airflow's own)."""
    made: list[tuple[str, str]] = []
    connect = psycopg.connect

    def recording(conninfo: str = "", **kwargs: Any) -> psycopg.Connection:
        params = {**conninfo_to_dict(conninfo), **{k: v for k, v in kwargs.items() if k in ("user", "dbname")}}
        made.append((str(params.get("dbname")), str(params.get("user"))))
        return connect(conninfo, **kwargs)

    monkeypatch.setattr(psycopg, "connect", recording)
    return made


def _run_dags(store: Path, dsn: str, made: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Every DAG once (the migration also rejected once); the users each connected to the vectors database as."""
    from vectorops.airflow.run import load_dag

    def run(dag_id: str, conf: dict[str, Any] | None = None) -> str:
        first = len(made)
        state = str(load_dag(dag_id).test(run_conf=conf).state)
        users.setdefault(dag_id, set()).update(user for database, user in made[first:] if database == "vectorops")
        return state

    users: dict[str, set[str]] = {}
    assert run("chroma_to_pgvector", {"chroma_path": str(store), "target_schema": SCHEMA}) == "success"
    assert run("chroma_to_pgvector", {"chroma_path": str(store), "collections": ["no-such-one"]}) == "failed"
    with psycopg.connect(dsn, autocommit=True) as conn:
        table = sql.Identifier(SCHEMA, table_name_for(COLLECTIONS[0]))
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (f"{COLLECTIONS[0]}-3",))
    assert run("pgvector_data_quality") == "failed"  # the tampered table
    assert run("pgvector_search_monitor") == "failed"  # the breaches
    with psycopg.connect(dsn, autocommit=True) as conn:  # a recall drop no ef_search fixes: maintenance rebuilds
        conn.execute("""UPDATE vectorops.index_health SET rebuild_reason = 'leak test', advised_recall = NULL
                        WHERE table_schema = %s AND table_name = %s""", (SCHEMA, table_name_for(COLLECTIONS[1])))
    assert run("pgvector_maintenance") == "success"
    assert run("pgvector_backup") == "success"
    return users


def _files(root: Path, skip: Callable[[Path], bool] = lambda path: False) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not skip(path):
            yield str(path), path.read_bytes()


def _table_texts(dsn: str, schema: str) -> Iterator[tuple[str, bytes]]:
    """Every row of every table of ``schema``, as PostgreSQL's text COPY writes it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
        for name in tables:
            with conn.cursor().copy(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(schema, name))) as cp:
                yield f"{schema}.{name}", b"".join(bytes(block) for block in cp)


def _server_statements(dsn: str) -> Iterator[tuple[str, bytes]]:
    """What the server keeps of the statements it ran: statistics and the sessions' current queries."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for view, query in (("pg_stat_statements", "SELECT query FROM pg_stat_statements"),
                            ("pg_stat_activity", "SELECT usename, application_name, query FROM pg_stat_activity")):
            yield view, "\n".join(map(str, conn.execute(query).fetchall())).encode()


def _vector_health(airflow_db: dict[str, str]) -> Iterator[tuple[str, bytes]]:
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    with TestClient(create_app(apps="core")) as client:
        token = client.post("/auth/token", json={"username": "admin", "password": "admin"}).json()["access_token"]
        for path in ("/vector-health/", "/vector-health/api/collections"):
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200 and "leak-docs" in response.text, response.text[:2000]
            yield path, response.content
    purge_cached_app()


def test_secrets_appear_in_no_log_alert_note_artifact_or_page_and_each_dag_uses_its_role(
        seeded: dict[str, Any], store: Path, settings: Any, dsn: str, airflow_db: dict[str, str],
        http_receiver: HttpReceiver, smtp_with_login: tuple[SmtpHandler, int], monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    users = _run_dags(store, dsn, _record_connections(monkeypatch))
    assert users == DAG_ROLES

    # the secrets were in use: the receivers got the alerts, the SMTP login and note request carried them
    mails = smtp_with_login[0].mails
    events = {json.loads(p.body).get("event") for p in http_receiver.posts if "/hooks/" in p.path}
    assert {"validation_failed", "task_failed"} <= events and any(e.startswith("search_") for e in events), events
    assert mails and all(m.login == ("alerts", SECRETS["smtp"]) for m in mails)
    assert any(n["body"].get("password") == SECRETS["api"] for n in seeded["notes"])
    with psycopg.connect(dsn) as conn:  # maintenance did its work as vectorops_maint
        assert conn.execute("SELECT action, status FROM vectorops.maintenance_log WHERE table_schema = %s",
                            (SCHEMA,)).fetchall() == [("reindex", "done")]

    output = capfd.readouterr()
    sources: list[tuple[str, bytes]] = [
        ("stdout", output.out.encode()), ("stderr", output.err.encode()),
        ("log records", "\n".join(r.getMessage() for r in caplog.records).encode()),
        *[(f"webhook post {p.path.split('/')[1]}", p.body) for p in http_receiver.posts],
        *[(f"mail {m.message['Subject']}", m.raw) for m in mails],
        *[(f"run note {n['url']}", json.dumps(n["body"]).encode()) for n in seeded["notes"]
          if n["method"] == "PATCH"],
        *_files(Path(airflow_db["AIRFLOW_HOME"])),
        *_files(settings.home, skip=lambda path: settings.pgdata in path.parents),
        *_files(settings.pgdata, skip=lambda path: path.suffix != ".log"),
        *_files(seeded["backups"]),
        *_table_texts(dsn, "vectorops"),
        *_server_statements(dsn),
        *_table_texts(runtime.dsn(settings, "airflow"), "public"),
        *_vector_health(airflow_db),
    ]
    assert any(name.endswith("manifest.json") for name, _ in sources)
    assert any("data_docs" in name for name, _ in sources)
    assert any(name.startswith("run note") for name, _ in sources)
    leaks = [_leak(name, content, what) for name, content in sources for what in SECRETS
             if _find(content, what) >= 0]
    assert leaks == []


def _find(content: bytes, what: str) -> int:
    """Where the secret ``what`` first appears in ``content``, raw or percent-encoded; -1 when nowhere."""
    found = [content.find(form.encode()) for form in {SECRETS[what], quote(SECRETS[what], safe="")}]
    return min((at for at in found if at >= 0), default=-1)


def _leak(name: str, content: bytes, what: str) -> str:
    """The place and the text around a leak, for the failure message."""
    at = _find(content, what)
    return f"{name}: secret {what!r} in ...{content[max(0, at - 120):at + 60].decode(errors='replace')}..."


def test_the_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "task.log").write_text(f"connecting with {SECRETS[READER]}\n")
    assert [name for name, content in _files(tmp_path) if SECRETS[READER].encode() in content] == [
        str(tmp_path / "logs" / "task.log")]
