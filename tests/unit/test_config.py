"""Settings read from the environment: the live-sync lag limit."""

from __future__ import annotations

import pytest

from vectorops.config import load_settings
from vectorops.errors import SettingError


def test_the_sync_lag_limit_defaults_to_15_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECTOROPS_SYNC_MAX_LAG_S", raising=False)
    assert load_settings().sync_max_lag_s == 900.0


def test_the_sync_lag_limit_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_SYNC_MAX_LAG_S", "0.5")
    assert load_settings().sync_max_lag_s == 0.5


@pytest.mark.parametrize("raw", ["soon", "-1", "nan"])
def test_an_unusable_sync_lag_limit_names_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("VECTOROPS_SYNC_MAX_LAG_S", raw)
    with pytest.raises(SettingError, match=r"^VECTOROPS_SYNC_MAX_LAG_S="):
        load_settings()


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("AIRFLOW_PORT", "http", "is not an integer"),
    ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "70000", "is not a TCP port"),
    ("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", "0", "must be at least 1"),
    ("VECTOROPS_DB_PORT", "99999", "is not a TCP port"),
])
def test_an_unusable_port_names_its_setting(monkeypatch: pytest.MonkeyPatch, name: str, raw: str,
                                            message: str) -> None:
    from vectorops.config import load_airflow_ports

    monkeypatch.setenv(name, raw)
    with pytest.raises(SettingError, match=rf"^{name}='?{raw}'?.*{message}"):
        load_settings()
        load_airflow_ports()


def test_the_airflow_ports_default_to_airflow_s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.config import AirflowPorts, load_airflow_ports

    for name in ("AIRFLOW_PORT", "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                 "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert load_airflow_ports() == AirflowPorts(api=8080, worker_log=8793, trigger_log=8794)
