"""A real CeleryExecutor cluster on this machine, set up as ``docker-compose.yaml`` sets up its services.

- compose's ``postgres`` and ``pgvector``: one embedded PostgreSQL of the test's own (``vectorops db up`` in a home
  of its own), its superuser as the pgvector service's, and an ``airflow`` role and database as the metadata
  service's; Airflow's metadata database and the Celery result backend;
- ``redis``: Debian's ``redis-server`` on a free loopback port, with the compose file's ``--requirepass``;
- ``airflow-init``: its script, line by line (:func:`_run_init`);
- ``airflow-apiserver``, ``-scheduler``, ``-dag-processor``, ``-triggerer`` and two ``airflow-worker``: the compose
  commands, each in a session of its own, with the environment :mod:`tests.e2e.compose_env` generates from the
  compose file. The workers differ only in their hostname, log-server port and pid file.

Each process writes ``tests/artifacts/celery/<name>.log``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
import requests
from psycopg import sql

from tests.e2e import compose_env
from tests.e2e.conftest import ARTIFACTS, DAG_ID, Platform
from tests.e2e.processes import stop_session
from tests.pitr_servers import free_port, vectorops

LOGS = ARTIFACTS / "celery"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
#: the long-running services, started in this order (the workers after the API server they report to)
SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
WORKERS = ("worker-1", "worker-2")
CHUNK_ROWS = 150
HEARTBEAT_TIMEOUT_S = 12
#: the alert channel the compose file names (``VECTOROPS_ALERT_WEBHOOK_CONN_ID``); the test stores the connection
ALERT_WEBHOOK_CONN_ID = "vectorops_alert_webhook"
#: what the shell passes on to every process (compose's containers have their own; nothing of pytest's Airflow)
_BASE_ENV = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER")


@dataclass
class Cluster:
    """The running cluster.

    :param platform: the REST API client (the same one the standalone e2e tests use).
    :param vectors_dsn: the pgvector service's superuser DSN (compose's ``VECTOROPS_DSN``).
    :param procs: each long-running process by name (services, ``worker-1``, ``worker-2``, ``redis``).
    :param hostnames: each worker's hostname, as its task instances record it.
    """

    platform: Platform
    vectors_dsn: str = field(repr=False)
    procs: dict[str, subprocess.Popen[bytes]]
    hostnames: dict[str, str]

    def log(self, name: str) -> Path:
        """The output of process ``name``."""
        return LOGS / f"{name}.log"

    def log_tails(self, lines: int = 25) -> str:
        """The end of every process's output, for failure messages."""
        parts = []
        for name in self.procs:
            text = self.log(name).read_text(errors="replace") if self.log(name).exists() else ""
            parts.append(f"--- {name}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    def kill_worker(self, name: str) -> list[int]:
        """``kill -9`` worker ``name``: its Celery main process and everything in its session, at once.

        :return: the pids killed.
        """
        proc = self.procs[name]
        members = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        members += [p for p in psutil.process_iter() if _session(p) == proc.pid and p not in members]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(members, timeout=15)
        proc.wait(timeout=15)
        return [member.pid for member in members]

    def task_processes(self, name: str) -> list[str]:
        """The task processes worker ``name`` runs now (Airflow titles them ``airflow worker -- <ti id>``)."""
        found = []
        for member in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if _session(member) == self.procs[name].pid and "airflow worker --" in " ".join(member.cmdline()):
                    found.append(" ".join(member.cmdline()))
        return found


def _session(proc: psutil.Process) -> int | None:
    try:
        return os.getsid(proc.pid)
    except OSError:
        return None


def compose_values(chroma: Path) -> dict[str, str]:
    """The variables the compose file reads from the shell, as the README's ``export`` line makes them."""
    values = {name: secrets.token_hex(16) for name in (
        "AIRFLOW_DB_PASSWORD", "PGVECTOR_PASSWORD", "PGVECTOR_ETL_PASSWORD", "PGVECTOR_MAINT_PASSWORD",
        "PGVECTOR_MONITOR_PASSWORD", "PGVECTOR_READER_PASSWORD", "PGVECTOR_RESTORE_PASSWORD", "REDIS_PASSWORD",
        "_AIRFLOW_WWW_USER_PASSWORD")}
    values.update({"AIRFLOW_JWT_SECRET": secrets.token_hex(32), "AIRFLOW_API_SECRET_KEY": secrets.token_hex(32),
                   "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
                   "AIRFLOW_UID": str(os.getuid()), "HOST_CHROMA_DIR": str(chroma),
                   "AIRFLOW_WORKER_CONCURRENCY": "2", "VECTOROPS_ALERT_WEBHOOK_CONN_ID": ALERT_WEBHOOK_CONN_ID})
    return values


def localizer(root: Path, chroma: Path, db_port: int, redis_port: int, api_port: int) -> compose_env.Localizer:
    """The compose hosts and container paths on this machine: both databases on the test's own server, Redis and
    the API server on their free ports, the volumes under ``root``, and the checkout's ``dags`` and ``plugins``."""
    here = f"127.0.0.1:{db_port}"
    return compose_env.Localizer(
        hosts={"postgres": here, "pgvector:5432": here, "redis:6379": f"127.0.0.1:{redis_port}",
               "airflow-apiserver:8080": f"127.0.0.1:{api_port}"},
        paths={"/opt/airflow/chroma": chroma, "/opt/airflow/vectorops-home": root / "vectorops-home",
               "/opt/airflow/logs": root / "logs", "/opt/airflow/dags": compose_env.ROOT / "dags",
               "/opt/airflow/plugins": compose_env.ROOT / "plugins"})


def added_settings(root: Path, values: Mapping[str, str], api_port: int) -> dict[str, str]:
    """:data:`compose_env.ADDED` for every process (the per-process ports and hostname come on top)."""
    checkout = compose_env.ROOT
    added = {
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(checkout / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(checkout / "plugins"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(root / "logs"),
        "PYTHONPATH": os.pathsep.join([str(checkout / "plugins"), str(checkout)]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{values.get('_AIRFLOW_WWW_USER_USERNAME', 'admin')}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(root / "airflow" / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        "VECTOROPS_RETRY_DELAY_S": "1",
        "VECTOROPS_CHUNK_ROWS": str(CHUNK_ROWS),
    }
    assert set(added) <= set(compose_env.ADDED), set(added) - set(compose_env.ADDED)
    return added


def process_environment(compose: Mapping[str, Any], service: str, values: Mapping[str, str],
                        localize: compose_env.Localizer, added: Mapping[str, str]) -> dict[str, str]:
    """One process's environment: the shell's basics, the service's compose environment, then :data:`ADDED` and
    :data:`ONE_MACHINE` settings (and only those) over it, plus a fresh pair of log-server ports."""
    env = {name: os.environ[name] for name in _BASE_ENV if name in os.environ}
    env.update(compose_env.service_environment(compose, service, values, localize))
    env.update(added)
    env["AIRFLOW__CORE__AUTH_MANAGER"] = \
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
    env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
    return env


def _start(name: str, command: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    with open(LOGS / f"{name}.log", "wb") as log:
        return subprocess.Popen(command, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _run(command: list[str], env: Mapping[str, str], what: str) -> None:
    done = subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def _metadata_database(superuser_dsn: str, password: str) -> None:
    """What the compose ``postgres`` service's image makes of ``POSTGRES_USER``/``_PASSWORD``/``_DB``: a role
    ``airflow`` owning a database ``airflow``."""
    with psycopg.connect(superuser_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE airflow LOGIN PASSWORD {}").format(sql.Literal(password)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'").fetchone()
        if exists:
            conn.execute("ALTER DATABASE airflow OWNER TO airflow")
        else:
            conn.execute("CREATE DATABASE airflow OWNER airflow")


def init_steps(compose: Mapping[str, Any], localize: compose_env.Localizer) -> list[tuple[str, list[str]]]:
    """``airflow-init``'s script as steps this machine runs: ``("mkdir", paths)``, ``("migrate", [])`` for the
    image's entrypoint (``_AIRFLOW_DB_MIGRATE``), ``("run", command)``; the shell's options and the container's
    ``chown`` are left out. A line it does not know fails, so a step added to the compose file is added here.

    :raises AssertionError: naming that line.
    """
    steps: list[tuple[str, list[str]]] = []
    for line in compose_env.init_script(compose):
        words = line.split()
        if line == "set -euo pipefail" or words[0] == "chown":
            continue
        if words[:2] == ["mkdir", "-p"]:
            steps.append(("mkdir", [localize(path) for path in words[2:]]))
        elif words == ["/entrypoint", "airflow", "version"]:
            steps.append(("migrate", []))
        elif words[:3] == ["python", "-m", "vectorops.cli"]:
            steps.append(("run", [sys.executable, *words[1:]]))
        else:
            raise AssertionError(f"tests/e2e/celery_cluster.py does not know how to run airflow-init's line {line!r}")
    return steps


def _run_init(compose: Mapping[str, Any], env: Mapping[str, str], localize: compose_env.Localizer) -> None:
    """``airflow-init``, as :func:`init_steps` reads it."""
    for kind, words in init_steps(compose, localize):
        if kind == "mkdir":
            for path in words:
                Path(path).mkdir(parents=True, exist_ok=True)
        elif kind == "migrate":
            assert env.get("_AIRFLOW_DB_MIGRATE") == "true", "airflow-init no longer asks the entrypoint to migrate"
            _run([AIRFLOW, "db", "migrate"], env, "airflow db migrate")
        else:
            _run(words, env, " ".join(words[1:]))


def _wait_until_ready(cluster: Cluster, timeout_s: float = 240) -> None:
    """Every component healthy behind ``/api/v2/monitor/health``, the DAG parsed, and both workers ready."""
    deadline = time.monotonic() + timeout_s
    platform = cluster.platform
    while time.monotonic() < deadline:
        dead = [name for name, proc in cluster.procs.items() if proc.poll() is not None]
        assert not dead, f"{dead} exited during start-up:\n{cluster.log_tails()}"
        ready = all(f"{name}@" in text and " ready." in text
                    for name in WORKERS for text in [cluster.log(name).read_text(errors="replace")])
        try:
            health = requests.get(f"{platform.base_url}/api/v2/monitor/health", timeout=5).json()
            healthy = all(health.get(part, {}).get("status") == "healthy"
                          for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))
            if ready and healthy and platform.api("GET", f"/dags/{DAG_ID}").status_code == 200:
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(2)
    raise AssertionError(f"the Celery cluster did not become ready in {timeout_s:.0f}s:\n{cluster.log_tails()}")


@contextlib.contextmanager
def celery_cluster(chroma: Path) -> Iterator[Cluster]:
    """Start the cluster serving the Chroma store ``chroma``; stop every process of it afterwards.

    :raises AssertionError: at the end, naming any process that outlived its SIGTERM and SIGKILL.
    """
    # before anything is started: without it the cluster would fail half-way with a bare FileNotFoundError
    assert shutil.which("redis-server"), "redis-server is not installed: `make redis` (Debian's redis-server package)"
    root = Path(tempfile.mkdtemp(prefix="vectorops-celery-"))
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)
    compose = compose_env.load_compose()
    values = compose_values(chroma)
    db_port, redis_port, api_port = free_port(), free_port(), free_port()
    here = f"127.0.0.1:{db_port}"
    localize = localizer(root, chroma, db_port, redis_port, api_port)
    added = added_settings(root, values, api_port)
    server_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VECTOROPS_DSN"))},
                  "VECTOROPS_HOME": str(root / "pgvector-home"), "VECTOROPS_DB_PORT": str(db_port),
                  "VECTOROPS_DB_USER": "vectorops", "VECTOROPS_DB_PASSWORD": values["PGVECTOR_PASSWORD"],
                  "VECTOROPS_WAL_ARCHIVE": "off"}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    leftovers: list[str] = []
    try:
        up = vectorops(server_env, "db", "up")
        assert up.returncode == 0, up.stderr
        superuser = f"postgresql://vectorops:{values['PGVECTOR_PASSWORD']}@{here}/vectorops"
        _metadata_database(superuser, values["AIRFLOW_DB_PASSWORD"])
        redis_words = compose["services"]["redis"]["command"][-1]
        assert "--requirepass" in redis_words, "the compose file's redis no longer requires a password"
        procs["redis"] = _start("redis", ["redis-server", "--requirepass", values["REDIS_PASSWORD"], "--port",
                                          str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                          "--dir", str(root)], os.environ)
        (root / "airflow").mkdir()
        user = values.get("_AIRFLOW_WWW_USER_USERNAME", "admin")
        passwords = root / "airflow" / "passwords.json"
        passwords.write_text(json.dumps({user: values["_AIRFLOW_WWW_USER_PASSWORD"]}))
        passwords.chmod(0o600)
        _run_init(compose, process_environment(compose, "airflow-init", values, localize, added), localize)
        for service in SERVICES:
            env = process_environment(compose, service, values, localize, added)
            procs[service.removeprefix("airflow-")] = _start(
                service.removeprefix("airflow-"), [AIRFLOW, *compose_env.service_command(compose, service, values)],
                env)
        hostnames = {}
        for name in WORKERS:
            env = process_environment(compose, "airflow-worker", values, localize, added)
            hostnames[name] = f"vectorops-{name}"
            env.update({"AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.e2e.worker_hostname.hostname",
                        "E2E_WORKER_HOSTNAME": hostnames[name]})
            command = [AIRFLOW, *compose_env.service_command(compose, "airflow-worker", values),
                       "--celery-hostname", f"{name}@%h", "--pid", str(root / f"{name}.pid")]
            procs[name] = _start(name, command, env)
        platform = Platform(base_url=f"http://127.0.0.1:{api_port}", user=user,
                            password=values["_AIRFLOW_WWW_USER_PASSWORD"], chroma_path=chroma,
                            log_path=LOGS / "scheduler.log")
        cluster = Cluster(platform=platform, vectors_dsn=superuser, procs=procs, hostnames=hostnames)
        _wait_until_ready(cluster)
        yield cluster
    finally:
        with ThreadPoolExecutor(max(1, len(procs))) as pool:  # all at once: a Celery warm shutdown takes seconds
            for survivors in pool.map(lambda name: stop_session(procs[name], LOGS / f"{name}.log"), list(procs)):
                leftovers += survivors
        vectorops(server_env, "db", "down")
        shutil.rmtree(root, ignore_errors=True)
    assert not leftovers, f"processes of the Celery cluster outlived SIGTERM and SIGKILL: {leftovers}"
