"""``make run``: the embedded database, demo data and Airflow standalone, stopped together on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from vectorops.airflow.env import airflow_environment, migrate_metadata
from vectorops.config import Settings
from vectorops.db import runtime
from vectorops.db.bootstrap import bootstrap


def _wait_for_api(port: str, proc: subprocess.Popen[bytes], timeout_s: float = 240) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(1)
    return False


def run_platform(settings: Settings) -> int:
    """Start everything, print the UI address and login, and run until interrupted.

    :return: the process exit code.
    """
    print(f"vectorops: starting the database ({'external' if settings.external_dsn else 'embedded'})", flush=True)
    dsn = bootstrap(settings)
    if not os.environ.get("CHROMA_DB_PATH"):
        from vectorops.cli.demo import seed_demo_store

        os.environ["CHROMA_DB_PATH"] = seed_demo_store(settings.home / "demo-chroma")
        print(f"vectorops: CHROMA_DB_PATH is unset; demo Chroma store at {os.environ['CHROMA_DB_PATH']}", flush=True)
    env = airflow_environment(settings)
    os.environ.update(env)
    print("vectorops: preparing the Airflow metadata database", flush=True)
    migrate_metadata(env)
    port = env["AIRFLOW__API__PORT"]
    log_path = settings.home / "airflow-standalone.log"
    airflow = Path(sys.executable).with_name("airflow")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(airflow), "standalone"], env=os.environ.copy(), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started from a shell that ignores SIGINT for background jobs
    try:
        if not _wait_for_api(port, proc):
            print(f"vectorops: Airflow did not come up; see {log_path}", file=sys.stderr)
            return 1
        user = os.environ.get("VECTOROPS_ADMIN_USER", "admin")
        password = os.environ.get("VECTOROPS_ADMIN_PASSWORD", "admin")
        print(f"\nvectorops is running.\n  Airflow UI:  http://127.0.0.1:{port}\n  Login:       {user} / {password}\n"
              f"  Database:    {dsn.replace(settings.db_password, '***') if settings.db_password else dsn}\n"
              f"  Chroma:      {os.environ['CHROMA_DB_PATH']}\n  Logs:        {log_path}\n"
              "Trigger the DAG chroma_to_pgvector from the UI. Press Ctrl-C to stop.\n", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        print("\nvectorops: stopping Airflow and the database", flush=True)
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        runtime.stop(settings)
