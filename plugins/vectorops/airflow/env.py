"""The Airflow configuration vectorops runs with locally: one place that builds the environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from vectorops.airflow.pools import HEAVY_POOL, HEAVY_POOL_DESCRIPTION, heavy_pool_slots
from vectorops.config import AirflowPorts, Settings, load_airflow_ports
from vectorops.db import runtime
from vectorops.errors import SettingError
from vectorops.install_layout import checkout_dir, dags_folder

#: where the local platform's log servers listen, and the host its tasks and triggers record
LOOPBACK = "127.0.0.1"


def loopback_hostname() -> str:
    """``[core] hostname_callable`` of the local platform.

    The API server fetches a running task's log from ``http://<the task's host>:<log server port>``; the local log
    servers listen on 127.0.0.1 only, so that is the host every task and trigger records.
    """
    return LOOPBACK


def local_ports(settings: Settings, airflow: AirflowPorts | None = None) -> dict[str, int]:
    """Every TCP port the local platform listens on, by the setting that chooses it.

    :param settings: the embedded database's port (left out with ``VECTOROPS_DSN``).
    :param airflow: Airflow's ports; default as the environment gives them now.
    """
    ports = airflow or load_airflow_ports()
    named = {"AIRFLOW_PORT": ports.api, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": ports.worker_log,
             "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": ports.trigger_log}
    return named if settings.external_dsn else {"VECTOROPS_DB_PORT": settings.db_port, **named}


def check_ports(settings: Settings) -> None:
    """Refuse, before anything starts, ports that clash: two settings naming one port, or an Airflow port another
    process holds (a second instance needs its own ports; the database's is checked when it starts).

    :param settings: the embedded database's port.
    :raises SettingError: naming the setting, its port and what to do.
    """
    seen: dict[int, str] = {}
    for name, port in local_ports(settings).items():
        if port in seen:
            raise SettingError(f"{name}={port} is also {seen[port]}: every port of the platform must differ")
        seen[port] = name
        if name != "VECTOROPS_DB_PORT" and not runtime.port_is_free(port):
            raise SettingError(f"{name}={port}: port is already in use on {LOOPBACK} (another vectorops or Airflow "
                               "running?); stop it or choose another port in .env")


def metadata_conn(settings: Settings) -> str:
    """SQLAlchemy URL of Airflow's metadata database.

    ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` wins; else the ``airflow`` database of the embedded server;
    with an external ``VECTOROPS_DSN`` and nothing else set, a SQLite file under ``AIRFLOW_HOME``.
    """
    explicit = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if explicit:
        return explicit
    if settings.external_dsn:
        return f"sqlite:///{settings.airflow_home / 'airflow.db'}"
    return runtime.dsn(settings, "airflow").replace("postgresql://", "postgresql+psycopg://", 1)


def airflow_environment(settings: Settings) -> dict[str, str]:
    """Environment variables for every Airflow process (and ``dag.test()``) of the local platform.

    The ports are read from the environment now (:func:`vectorops.config.load_airflow_ports`).

    :param settings: where things live.
    """
    checkout = checkout_dir()
    ports = load_airflow_ports()
    port = str(ports.api)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_conn(settings),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        # the plugin comes through the package's entry point; the folder holds nothing Airflow should scan
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(checkout / "plugins" if checkout else settings.airflow_home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__API__PORT": port,
        # the local login is a local-only value (.env): the UI listens on this machine only unless told otherwise
        "AIRFLOW__API__HOST": os.environ.get("AIRFLOW__API__HOST") or "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports.worker_log),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports.trigger_log),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": (os.environ.get("AIRFLOW__CORE__HOSTNAME_CALLABLE")
                                             or f"{__name__}.loopback_hostname"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{os.environ.get('VECTOROPS_ADMIN_USER', 'admin')}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(settings.airflow_home / "passwords.json"),
        "VECTOROPS_HOME": str(settings.home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(checkout / "plugins") if checkout else None,
                                                    os.environ.get("PYTHONPATH")])),
        # airflow standalone and the executors start `airflow ...` from PATH: put this venv first.
        "PATH": os.pathsep.join(filter(None, [str(Path(sys.executable).parent), os.environ.get("PATH")])),
    }
    # the public API, for tasks that write their run's note (vectorops.airflow.run_note); local-only login from .env
    env["AIRFLOW_CONN_VECTOROPS_API"] = (
        f"http://{quote(os.environ.get('VECTOROPS_ADMIN_USER', 'admin'), safe='')}:"
        f"{quote(os.environ.get('VECTOROPS_ADMIN_PASSWORD', 'admin'), safe='')}@127.0.0.1:{port}")
    if env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql"):
        env.setdefault("AIRFLOW__CORE__EXECUTOR", os.environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"))
    _write_passwords(settings)
    return env


def _write_passwords(settings: Settings) -> None:
    user = os.environ.get("VECTOROPS_ADMIN_USER", "admin")
    password = os.environ.get("VECTOROPS_ADMIN_PASSWORD", "admin")
    path = settings.airflow_home / "passwords.json"
    path.write_text(json.dumps({user: password}))
    path.chmod(0o600)


def migrate_metadata(env: dict[str, str]) -> bool:
    """Run ``airflow db migrate`` and create or update the :data:`~vectorops.airflow.pools.HEAVY_POOL` pool
    (both idempotent); skipped when a marker in ``AIRFLOW_HOME`` says both were done for this database, Airflow
    version and pool size.

    :param env: the environment of :func:`airflow_environment`.
    :return: whether it ran (``False``: the marker was current).
    :raises SettingError: when ``VECTOROPS_HEAVY_POOL_SLOTS`` is unusable.
    """
    slots = heavy_pool_slots({**os.environ, **env})
    marker = Path(env["AIRFLOW_HOME"]) / ".db-migrated"
    stamp = f"{env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}|{_airflow_version()}|{HEAVY_POOL}={slots}"
    if marker.exists() and marker.read_text() == stamp:
        return False
    _airflow(env, "db", "migrate")
    ensure_heavy_pool(env)
    marker.write_text(stamp)
    return True


def ensure_heavy_pool(env: dict[str, str]) -> None:
    """``airflow pools set``: create the heavy pool, or give it ``VECTOROPS_HEAVY_POOL_SLOTS`` slots again.

    The scheduler leaves a task of a pool that does not exist in state scheduled for good (``dag.test()`` ignores
    pools), so ``vectorops run`` calls this at every start: a pool deleted in the UI comes back.

    :param env: the environment of :func:`airflow_environment`.
    :raises SettingError: when ``VECTOROPS_HEAVY_POOL_SLOTS`` is unusable.
    """
    _airflow(env, "pools", "set", HEAVY_POOL, str(heavy_pool_slots({**os.environ, **env})), HEAVY_POOL_DESCRIPTION)


def _airflow(env: dict[str, str], *args: str) -> None:
    # beside this interpreter in a venv; on PATH in Airflow's image (python in /usr/local/bin, airflow in ~/.local/bin)
    beside = Path(sys.executable).with_name("airflow")
    airflow = str(beside) if beside.exists() else shutil.which("airflow", path=env.get("PATH")) or "airflow"
    proc = subprocess.run([airflow, *args], env={**os.environ, **env}, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"`airflow {' '.join(args[:2])}` failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow-core")
