"""``make run``'s components: every listener on 127.0.0.1 at its configured port, and a shutdown that ends them."""

from __future__ import annotations

import subprocess
import time

from vectorops.cli.platform import _components, _stop


def test_airflow_s_log_servers_are_replaced_by_ones_on_loopback_at_the_configured_ports() -> None:
    commands = _components({"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "18793",
                            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "18794"})
    assert set(commands) == {"api-server", "scheduler", "dag-processor", "triggerer", "worker-log-server",
                             "trigger-log-server"}
    # the scheduler's and triggerer's own log servers would listen on every interface (no bind-host setting)
    assert commands["scheduler"][1:] == ["scheduler", "--skip-serve-logs"]
    assert commands["triggerer"][1:] == ["triggerer", "--skip-serve-logs"]
    for name, port in (("worker-log-server", "18793"), ("trigger-log-server", "18794")):
        command = commands[name]
        assert command[command.index("--host") + 1] == "127.0.0.1", command
        assert command[command.index("--port") + 1] == port, command


def test_stopping_ends_every_component_and_its_children() -> None:
    procs = {name: subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
             for name in ("one", "two")}
    started = time.monotonic()
    _stop(procs)
    assert time.monotonic() - started < 10
    assert all(proc.returncode is not None for proc in procs.values())
    for proc in procs.values():
        states = subprocess.run(["ps", "-o", "stat=", "-g", str(proc.pid)], capture_output=True, text=True,
                                check=False).stdout.split()
        assert all(state.startswith("Z") for state in states), states  # a zombie is dead; this init reaps late
