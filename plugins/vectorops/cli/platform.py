"""``make run``: the embedded database, demo data and Airflow's components, stopped together on Ctrl-C.

Airflow's own ``airflow standalone`` starts the scheduler's and the triggerer's log servers on every interface
(Airflow 3.3 has no bind-host setting for them), so the components are started here instead: api-server,
scheduler and triggerer without their log servers (``--skip-serve-logs``), dag-processor, and the two log servers
on 127.0.0.1 at their configured ports. Each writes its output to ``VECTOROPS_HOME/logs/<component>.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from vectorops.airflow.env import LOOPBACK, airflow_environment, check_ports, ensure_heavy_pool, migrate_metadata
from vectorops.airflow.pools import heavy_pool_slots
from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.bootstrap import bootstrap

LOG_APP = "airflow.utils.serve_logs.log_server:get_app"
STOP_TIMEOUT_S = 60


def _components(env: dict[str, str]) -> dict[str, list[str]]:
    """The command of each component, by name."""
    airflow = str(Path(sys.executable).with_name("airflow"))

    def log_server(port: str) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--factory", LOG_APP, "--host", LOOPBACK, "--port", port,
                "--no-access-log", "--log-level", "warning"]

    return {"api-server": [airflow, "api-server"], "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
            "dag-processor": [airflow, "dag-processor"], "triggerer": [airflow, "triggerer", "--skip-serve-logs"],
            "worker-log-server": log_server(env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]),
            "trigger-log-server": log_server(env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"])}


def _wait_for_api(port: str, procs: dict[str, subprocess.Popen[bytes]], timeout_s: float = 240) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and all(p.poll() is None for p in procs.values()):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(1)
    return False


def _running_in_group(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` still running (zombies left out: a container's init may never reap
    them)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM every component's process group, then SIGKILL what is left of it after :data:`STOP_TIMEOUT_S`.

    The scheduler waits for the tasks it runs to end; a component still running after a few seconds is named.
    """
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    started = time.monotonic()
    deadline = started + STOP_TIMEOUT_S
    named = False
    for proc in procs.values():
        while (proc.poll() is None or _running_in_group(proc.pid)) and time.monotonic() < deadline:
            if not named and time.monotonic() - started > 5:
                waiting = [n for n, p in procs.items() if p.poll() is None or _running_in_group(p.pid)]
                print(f"vectorops: waiting for {', '.join(waiting)} to end (at most {STOP_TIMEOUT_S} s, then they "
                      "are killed; an interrupted migration resumes on its next run)", flush=True)
                named = True
            time.sleep(0.25)
        if proc.poll() is None or _running_in_group(proc.pid):
            with contextlib.suppress(ProcessLookupError):  # it ended in the meantime
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _stopped_early(procs: dict[str, subprocess.Popen[bytes]]) -> str | None:
    return next((name for name, proc in procs.items() if proc.poll() is not None), None)


def run_platform(settings: Settings) -> int:
    """Start everything, print the UI address and login, and run until interrupted.

    :return: the process exit code.
    :raises SettingError: when a port of the platform is taken or two settings name the same one.
    """
    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started from a shell that ignores SIGINT for background jobs
    check_ports(settings)
    heavy_pool_slots()  # an unusable pool size is refused before anything starts
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = settings.home / "logs"
    try:
        print(f"vectorops: starting the database ({'external' if settings.external_dsn else 'embedded'})",
              flush=True)
        dsn = bootstrap(settings)
        if not os.environ.get("CHROMA_DB_PATH"):
            from vectorops.cli.demo import seed_demo_store

            os.environ["CHROMA_DB_PATH"] = seed_demo_store(settings.home / "demo-chroma")
            print(f"vectorops: CHROMA_DB_PATH is unset; demo Chroma store at {os.environ['CHROMA_DB_PATH']}",
                  flush=True)
        env = airflow_environment(settings)
        os.environ.update(env)
        print("vectorops: preparing the Airflow metadata database", flush=True)
        if not migrate_metadata(env):  # done before: the pool still, in case it was deleted in the UI since
            ensure_heavy_pool(env)
        port = env["AIRFLOW__API__PORT"]
        logs.mkdir(parents=True, exist_ok=True)
        print(f"vectorops: starting Airflow (logs in {logs})", flush=True)
        for name, command in _components(env).items():
            with open(logs / f"{name}.log", "ab") as log:
                procs[name] = subprocess.Popen(command, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, start_new_session=True)
        if not _wait_for_api(port, procs):
            culprit = _stopped_early(procs) or "api-server"
            print(f"vectorops: Airflow did not come up: the {culprit} "
                  f"{'exited' if procs[culprit].poll() is not None else 'did not answer'}; see {logs / culprit}.log",
                  file=sys.stderr)
            return 1
        user = os.environ.get("VECTOROPS_ADMIN_USER", "admin")
        password = os.environ.get("VECTOROPS_ADMIN_PASSWORD", "admin")
        print(f"\nvectorops is running.\n  Airflow UI:  http://127.0.0.1:{port}\n  Login:       {user} / {password}\n"
              f"  Database:    {dsn.replace(settings.db_password, '***') if settings.db_password else dsn}\n"
              f"  Chroma:      {os.environ['CHROMA_DB_PATH']}\n  Logs:        {logs}\n"
              "Trigger the DAG chroma_to_pgvector from the UI. Press Ctrl-C to stop.\n", flush=True)
        while (failed := _stopped_early(procs)) is None:
            time.sleep(1)
        print(f"vectorops: the {failed} exited with {procs[failed].returncode}; see {logs / failed}.log; stopping",
              file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nvectorops: stopping Airflow and the database…", flush=True)
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the shutdown short
            signal.signal(signum, signal.SIG_IGN)
        _stop(procs)
        if runtime.stop(settings) or procs:
            print("vectorops: stopped", flush=True)
