"""The local platform's Airflow environment: its ports and host, and a clear refusal of a port that is taken."""

from __future__ import annotations

import importlib
import socket
from collections.abc import Iterator

import pytest

from vectorops.airflow.env import airflow_environment, check_ports, local_ports
from vectorops.config import load_settings
from vectorops.errors import SettingError

PORTS = ("AIRFLOW_PORT", "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT")


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Free ports for the API and both log servers, set as a second instance's ``.env`` would."""
    chosen = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
    for name, port in chosen.items():
        monkeypatch.setenv(name, str(port))
    monkeypatch.delenv("AIRFLOW__API__HOST", raising=False)
    monkeypatch.delenv("AIRFLOW__CORE__HOSTNAME_CALLABLE", raising=False)
    yield chosen


def test_the_environment_carries_every_configured_port_and_the_loopback_host(ports: dict[str, int]) -> None:
    settings = load_settings()
    env = airflow_environment(settings)
    api = ports["AIRFLOW_PORT"]
    assert (env["AIRFLOW__API__PORT"], env["AIRFLOW__API__HOST"]) == (str(api), "127.0.0.1")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{api}/execution/"
    assert env["AIRFLOW_CONN_VECTOROPS_API"].endswith(f"@127.0.0.1:{api}")
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == str(ports["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"])
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == str(
        ports["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"])
    # tasks record 127.0.0.1 as their host: the API server fetches running logs where the log servers listen
    module, _, name = env["AIRFLOW__CORE__HOSTNAME_CALLABLE"].rpartition(".")
    assert getattr(importlib.import_module(module), name)() == "127.0.0.1"
    assert local_ports(settings) == {"VECTOROPS_DB_PORT": settings.db_port, **ports}


def test_free_ports_pass(ports: dict[str, int]) -> None:
    check_ports(load_settings())


@pytest.mark.parametrize("setting", PORTS)
def test_a_port_already_taken_is_refused_in_one_line_naming_the_setting(ports: dict[str, int],
                                                                         setting: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[setting]))
        holder.listen()
        with pytest.raises(SettingError, match=rf"^{setting}={ports[setting]}: port is already in use") as raised:
            check_ports(load_settings())
    assert "\n" not in str(raised.value)


def test_two_settings_on_one_port_are_refused(ports: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", str(ports["AIRFLOW_PORT"]))
    with pytest.raises(SettingError, match=r"^AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=\d+ is also AIRFLOW_PORT"):
        check_ports(load_settings())
