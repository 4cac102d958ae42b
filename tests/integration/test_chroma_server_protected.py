"""A Chroma server behind TLS and a token, reached through an Airflow connection.

One real ``chroma run`` on loopback holds collections in ``default_tenant/default_database`` and in a second
tenant and database. In front of it, TLS reverse proxies (``tests/tls_token_proxy.py``) with a certificate from a
throw-away CA demand a token (``X-Chroma-Token``, ``Bearer`` or ``Basic``). Connections come from
``AIRFLOW_CONN_*`` variables the tests set, as a deployment's secrets backend would hand them over.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.chroma_run import chroma_run, free_port
from tests.support import add_records, digest, pg_digest, record_line
from tests.tls_token_proxy import CertificateAuthority, TokenProxy, make_ca
from vectorops.chroma import server as chroma_server
from vectorops.chroma.source import CollectionRef, SourceSpec
from vectorops.errors import SourceError

TOKEN = "s3cret-Token_7f2c9e"
TENANT, DATABASE, ARCHIVE = "acme-corp", "kb-main", "kb-archive"
PLAIN_TENANT = "plain-co"
#: (tenant, database, name, space, rows); each migrating test has collections of its own
COLLECTIONS = (("default_tenant", "default_database", "prot-alpha", "cosine", 300),
               ("default_tenant", "default_database", "prot-beta", "l2", 40),
               (TENANT, DATABASE, "prot-gamma", "ip", 120),
               (TENANT, ARCHIVE, "prot-zeta", "l2", 25),
               (PLAIN_TENANT, "db-one", "prot-delta", "cosine", 60),
               (PLAIN_TENANT, "db-two", "prot-epsilon", "ip", 30))
REFS = {name: CollectionRef(tenant, database, name) for tenant, database, name, _, _ in COLLECTIONS}
DEFAULT_REFS = [REFS["prot-alpha"], REFS["prot-beta"]]
GAMMA = REFS["prot-gamma"]


@dataclass(frozen=True)
class Server:
    """The Chroma server (``port``, plain HTTP), its proxies by auth mode, the CA and a CA that did not sign."""

    port: int
    proxies: dict[str, TokenProxy]
    ca: CertificateAuthority
    other_ca: CertificateAuthority


def _direct(port: int, tenant: str = "default_tenant", database: str = "default_database") -> Any:
    import chromadb
    from chromadb.config import Settings

    return chromadb.HttpClient(host="127.0.0.1", port=port, settings=Settings(anonymized_telemetry=False),
                               tenant=tenant, database=database)


def _seed(port: int) -> None:
    import chromadb
    from chromadb.config import Settings

    admin = chromadb.AdminClient(Settings(anonymized_telemetry=False, chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                          chroma_server_host="127.0.0.1", chroma_server_http_port=port))
    for tenant in sorted({t for t, *_ in COLLECTIONS} - {"default_tenant"}):
        admin.create_tenant(tenant)
    for tenant, database in sorted({(t, d) for t, d, *_ in COLLECTIONS if t != "default_tenant"}):
        admin.create_database(database, tenant=tenant)
    rng = np.random.default_rng(17)
    for tenant, database, name, space, rows in COLLECTIONS:
        col = _direct(port, tenant, database).create_collection(name, configuration={"hnsw": {"space": space}})
        ids = [f"{name}-{i}" for i in range(rows)]
        add_records(col, ids, rng.standard_normal((rows, 8), dtype=np.float32),
                    [f"{name} doc {i}" for i in range(rows)], [{"i": i, "tenant": tenant} for i in range(rows)],
                    [f"s3://{name}/{i}" for i in range(rows)])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("chroma-protected")
    with chroma_run(root / "store") as port:
        _seed(port)
        ca, other_ca = make_ca(root / "ca"), make_ca(root / "other-ca", "some other CA")
        proxies = {mode: TokenProxy(port, ca, TOKEN, mode) for mode in ("x-chroma-token", "bearer", "basic")}
        for proxy in proxies.values():
            proxy.__enter__()
        try:
            yield Server(port, proxies, ca, other_ca)
        finally:
            for proxy in proxies.values():
                proxy.__exit__()


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    chroma_server.forget_clients()
    yield
    chroma_server.forget_clients()


def _connect(monkeypatch: pytest.MonkeyPatch, conn_id: str, port: int, *, login: str | None = None,
             password: str | None = TOKEN, **extra: Any) -> str:
    """Define connection ``conn_id`` as ``AIRFLOW_CONN_<ID>`` (Airflow's JSON form) and return its id."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "chroma", "host": "127.0.0.1", "port": port, "login": login, "password": password,
        "extra": {key: value for key, value in extra.items() if value is not None}}))
    return conn_id


def _tls(server: Server, monkeypatch: pytest.MonkeyPatch, conn_id: str, mode: str = "x-chroma-token",
         **fields: Any) -> str:
    """A connection through the ``mode`` proxy, trusting the test CA, with the right token unless told otherwise."""
    fields = {"ca_bundle": str(server.ca.ca_file), "auth_type": mode, "https": True, **fields}
    return _connect(monkeypatch, conn_id, server.proxies[mode].port, **fields)


def _server_digest(port: int, tenant: str, database: str, name: str) -> tuple[str, int]:
    got = _direct(port, tenant, database).get_collection(name).get(
        include=["embeddings", "documents", "metadatas", "uris"])
    rows = zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"], got["uris"], strict=True)
    return digest((r[0], record_line(*r)) for r in rows)


def test_list_collections_per_tenant_and_database_in_every_auth_mode(server: Server,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for mode in ("x-chroma-token", "bearer", "basic"):
        login = "reader" if mode == "basic" else None
        spec = chroma_server.source_from_connection(_tls(server, monkeypatch, f"prot_list_{mode[:5]}", mode,
                                                         login=login))
        assert (spec.ssl, spec.port, spec.tenant) == (True, server.proxies[mode].port, None)
        assert chroma_server.list_collections(spec) == DEFAULT_REFS
    acme = chroma_server.source_from_connection(_tls(server, monkeypatch, "prot_list_acme", tenant=TENANT))
    assert chroma_server.list_collections(acme) == [REFS["prot-zeta"], GAMMA]  # every database, sorted
    one = SourceSpec(**{**asdict(acme), "database": DATABASE})
    assert chroma_server.list_collections(one) == [GAMMA]
    assert TOKEN not in repr(acme) and TOKEN not in json.dumps(asdict(acme))


def test_open_http_client_reads_a_tenants_collection_through_tls_and_token(server: Server,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = server.proxies["x-chroma-token"]
    spec = chroma_server.source_from_connection(_tls(server, monkeypatch, "prot_open"))
    before = proxy.counts()[0]
    client = chroma_server.open_http_client(spec, TENANT, DATABASE)
    assert client is chroma_server.open_http_client(spec, TENANT, DATABASE)  # one per process
    assert client.get_collection(GAMMA.name).count() == 120
    assert proxy.counts()[0] > before  # it went through the proxy, with the token


def test_the_hook_opens_the_client_and_its_test_button_names_what_is_wrong(server: Server,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.airflow.chroma_hook import ChromaHook

    hook = ChromaHook(_tls(server, monkeypatch, "prot_hook", "bearer", tenant=TENANT), database=ARCHIVE)
    assert hook.get_conn().get_collection("prot-zeta").count() == 25
    assert hook.test_connection() == (True, "Connection successfully tested")
    bad = ChromaHook(_tls(server, monkeypatch, "prot_hook_bad", "bearer", password="nope-nope"))
    ok, message = bad.test_connection()
    assert not ok and "refused the credentials of connection 'prot_hook_bad' (HTTP 401)" in message


def _migrate(settings: Any, params: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """The DAG's steps in order (as tests.support.migrate_in_process), keeping what would travel through XCom."""
    from vectorops.migration import request as migration_request
    from vectorops.migration import steps

    request = migration_request.request_from_params(params, settings)
    xcom: list[Any] = [request.source]
    summaries = []
    for name in migration_request.select_collections(request):
        plan = steps.prepare(settings, request, name, run_id)
        xcom.append(plan)
        for chunk_no in plan.chunks:
            xcom.append(steps.load(settings, plan, chunk_no))
        summaries.append(steps.finalize(settings, plan))
    xcom.extend(summaries)
    assert TOKEN not in json.dumps(xcom, default=repr)
    return summaries


def _registered(dsn: str, schema: str) -> dict[str, tuple[str, str, str, str]]:
    """The collections registered with tables in ``schema``: name -> (table, source_uri, tenant, database)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT collection, table_name, source_uri, tenant, database "
                            "FROM vectorops.collection_registry WHERE table_schema = %s", (schema,)).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_migrate_through_tls_and_token_equals_the_source(server: Server, monkeypatch: pytest.MonkeyPatch,
                                                         settings: Any, dsn: str) -> None:
    conn_id = _tls(server, monkeypatch, "prot_migrate")
    summaries = _migrate(settings, {"chroma_conn": conn_id, "target_schema": "prot_tls", "batch_size": 64},
                         "prot-tls-run")
    assert len(summaries) == 2
    acme = _tls(server, monkeypatch, "prot_migrate_acme", tenant=TENANT, database=DATABASE)
    _migrate(settings, {"chroma_conn": acme, "target_schema": "prot_tls", "batch_size": 64}, "prot-tls-acme")
    registered = _registered(dsn, "prot_tls")
    assert sorted(registered) == sorted(ref.name for ref in [*DEFAULT_REFS, GAMMA])
    uri = f"chroma+https://127.0.0.1:{server.proxies['x-chroma-token'].port}"
    for ref in [*DEFAULT_REFS, GAMMA]:
        table, source_uri, tenant, database = registered[ref.name]
        assert (source_uri, tenant, database) == (uri, ref.tenant, ref.database)
        assert pg_digest(dsn, "prot_tls", table) == _server_digest(server.port, ref.tenant, ref.database, ref.name)


def test_migrate_every_database_of_a_tenant_over_plain_http(server: Server, monkeypatch: pytest.MonkeyPatch,
                                                            settings: Any, dsn: str) -> None:
    conn_id = _connect(monkeypatch, "prot_plain", server.port, password=None, tenant=PLAIN_TENANT)  # every database
    _migrate(settings, {"chroma_conn": conn_id, "target_schema": "prot_plain"}, "prot-plain-run")
    registered = _registered(dsn, "prot_plain")
    assert sorted(registered) == ["prot-delta", "prot-epsilon"]
    for name, (table, source_uri, tenant, database) in registered.items():
        assert (source_uri, tenant, database) == (f"chroma+http://127.0.0.1:{server.port}", PLAIN_TENANT,
                                                  REFS[name].database)
        assert pg_digest(dsn, "prot_plain", table) == _server_digest(server.port, tenant, database, name)


BAD_CONNECTIONS = {
    # id: (fields on the x-chroma-token proxy unless "port" says otherwise, a pattern the one line must match)
    "wrong_token": ({"password": "not-the-token"}, r"refused the credentials of connection 'prot_bad_wrong_token' "
                                                   r"\(HTTP 401\): check its password \(token\)"),
    "no_token": ({"password": None}, r"asks for credentials \(HTTP 401\) and connection 'prot_bad_no_token' has "
                                     r"none: set its password \(token\)"),
    "bearer_not_header": ({"auth_type": "bearer"}, r"refused the credentials.*'auth_type' 'bearer'"),
    "unknown_tenant": ({"tenant": "nobody-here"}, r"tenant 'nobody-here' not found .*extra 'tenant' of "
                                                  r"connection 'prot_bad_unknown_tenant'"),
    "unknown_database": ({"tenant": TENANT, "database": "no-such-db"},
                         r"database 'no-such-db' not found in tenant 'acme-corp'.*extra 'database'"),
    "no_ca_bundle": ({"ca_bundle": ""}, r"TLS certificate of Chroma server https://127\.0\.0\.1:\d+ is not trusted "
                                        r"\(.*\): set extra 'ca_bundle' of connection 'prot_bad_no_ca_bundle'"),
    "other_ca": ({"ca_bundle": "OTHER"}, r"not trusted.*extra 'ca_bundle'.*or 'verify': false"),
    "plain_to_tls": ({"https": False}, r"closed the connection.*set extra 'https'"),
    "refused": ({"port": "FREE"}, r"cannot connect to Chroma server 127\.0\.0\.1:\d+ \(.*refused.*\).*host and "
                                  r"port of connection 'prot_bad_refused'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONNECTIONS))
def test_each_failure_is_one_line_naming_the_setting(case: str, server: Server, monkeypatch: pytest.MonkeyPatch,
                                                     settings: Any) -> None:
    from vectorops.migration import request as migration_request

    fields, pattern = BAD_CONNECTIONS[case]
    fields = dict(fields)
    if fields.get("ca_bundle") == "OTHER":
        fields["ca_bundle"] = str(server.other_ca.ca_file)
    if fields.pop("port", None) == "FREE":
        conn_id = _connect(monkeypatch, f"prot_bad_{case}", free_port(), https=True)
    else:
        conn_id = _tls(server, monkeypatch, f"prot_bad_{case}", **fields)
    proxy = server.proxies["x-chroma-token"]
    before = proxy.counts()
    request = migration_request.request_from_params({"chroma_conn": conn_id}, settings)
    with pytest.raises(SourceError) as raised:
        migration_request.select_collections(request)
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message and TOKEN not in message
    chained = raised.value.__cause__ or (None if raised.value.__suppress_context__ else raised.value.__context__)
    assert chained is None  # no chromadb or httpx traceback under the line in a task log
    assert re.search(pattern, message), message
    accepted, refused, _ = (a - b for a, b in zip(proxy.counts(), before, strict=True))
    if case in ("wrong_token", "no_token", "bearer_not_header"):
        assert (accepted, refused) == (0, 1)  # asked once: nothing retried the refused credentials
    if case in ("no_ca_bundle", "other_ca", "plain_to_tls"):
        assert (accepted, refused) == (0, 0)  # no request got through a TLS handshake that failed


def test_a_refused_token_fails_the_dag_run_once_without_a_retry(server: Server, monkeypatch: pytest.MonkeyPatch,
                                                                airflow_db: dict[str, str],
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    monkeypatch.setenv("VECTOROPS_RETRY_DELAY_S", "0.5")  # tasks keep their retries; waiting for them is not the point
    conn_id = _tls(server, monkeypatch, "prot_dag_wrong", password="wrong-token-1234")
    proxy = server.proxies["x-chroma-token"]
    before = proxy.counts()
    run = load_dag("chroma_to_pgvector").test(run_conf={"chroma_conn": conn_id, "target_schema": "prot_dag"})
    assert str(run.state) == "failed"
    with create_session() as session:
        plan = next(ti for ti in run.get_task_instances(session=session) if ti.task_id == "plan_request")
        assert (str(plan.state), plan.try_number) == ("failed", 1)
    assert proxy.counts()[1] - before[1] == 1
    out, err = capfd.readouterr()
    assert "refused the credentials of connection 'prot_dag_wrong' (HTTP 401)" in out + err
    assert "wrong-token-1234" not in out + err


def test_the_cli_migrates_from_a_url_and_the_token_stays_out_of_params_xcom_and_logs(
        server: Server, monkeypatch: pytest.MonkeyPatch, airflow_db: dict[str, str], dsn: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from vectorops.cli import main, migrate

    monkeypatch.delenv("AIRFLOW_CONN_VECTOROPS_CLI_CHROMA", raising=False)  # undone after the test
    url = (f"https://127.0.0.1:{server.proxies['bearer'].port}/?token={TOKEN}&ca_bundle={server.ca.ca_file}"
           f"&tenant={TENANT}&database={ARCHIVE}")
    # --airflow: the DAG run's conf and XCom are where a token could leak; the in-process run has neither
    assert main.main(["migrate", "--airflow", "--chroma-conn", url, "--schema", "prot_cli", "--batch-size", "50"]) == 0
    out, err = capfd.readouterr()
    assert "promoted" in out and TOKEN not in out + err
    table = _registered(dsn, "prot_cli")["prot-zeta"][0]
    assert pg_digest(dsn, "prot_cli", table) == _server_digest(server.port, TENANT, ARCHIVE, "prot-zeta")
    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == "chroma_to_pgvector")
                              .order_by(DagRun.id.desc()).limit(1)).one()
        assert run.conf["chroma_conn"] == migrate.CLI_CHROMA_CONN and TOKEN not in json.dumps(run.conf)
        values = session.scalars(select(XComModel.value).where(XComModel.run_id == run.run_id)).all()
    assert values and TOKEN not in json.dumps(values, default=str)
    # the default, in-process run: the token stays out of its output and its log file too
    assert main.main(["migrate", "--chroma-conn", url, "--schema", "prot_cli_own", "--batch-size", "50",
                      "--previous-table", "keep"]) == 0
    out, err = capfd.readouterr()
    assert "promoted" in out and TOKEN not in out + err
    log = re.search(r"^log: (\S+)$", err, re.MULTILINE)
    assert log and TOKEN not in Path(log[1]).read_text(errors="replace"), err
    table = _registered(dsn, "prot_cli_own")["prot-zeta"][0]
    assert pg_digest(dsn, "prot_cli_own", table) == _server_digest(server.port, TENANT, ARCHIVE, "prot-zeta")
