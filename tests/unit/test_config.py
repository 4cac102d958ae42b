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
