"""The scheduled DAGs' Params: today's settings as defaults, applied over the settings, bad values named."""

from __future__ import annotations

from typing import Any

import pytest

from vectorops.airflow.pools import heavy_pool_slots
from vectorops.airflow.scheduled_params import (
    BACKUP_THRESHOLDS,
    MAINTENANCE_THRESHOLDS,
    MONITOR_THRESHOLDS,
    SYNC_THRESHOLDS,
    THRESHOLDS,
    apply_thresholds,
    chosen_collections,
    is_dry_run,
    threshold_params,
)
from vectorops.config import load_settings
from vectorops.errors import RequestError, SettingError

ALL = (*MAINTENANCE_THRESHOLDS, *MONITOR_THRESHOLDS, *BACKUP_THRESHOLDS, *SYNC_THRESHOLDS)


def _defaults() -> dict[str, Any]:
    return {name: param.value for name, param in threshold_params(ALL).items()}


def test_the_defaults_are_what_load_settings_reads_and_applying_them_changes_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_REINDEX_GROWTH_RATIO", "0.5")
    monkeypatch.setenv("VECTOROPS_HNSW_EF_SEARCH", "64")
    monkeypatch.setenv("VECTOROPS_SYNC_MAX_LAG_S", "60")
    settings = load_settings()
    defaults = _defaults()
    assert (defaults["reindex_growth_ratio"], defaults["ef_search"], defaults["max_lag_s"]) == (0.5, 64, 60.0)
    assert apply_thresholds(settings, defaults, ALL) == settings


def test_a_run_value_goes_over_the_setting_it_names() -> None:
    settings = load_settings()
    params = _defaults() | {"max_p95_ms": 7.5, "keep": 2, "vacuum_min_dead_tuples": 0, "ef_search": None,
                            "max_lag_s": 1}
    applied = apply_thresholds(settings, params, ALL)
    assert (applied.monitor.max_p95_ms, applied.backup.keep, applied.maintenance.vacuum_min_dead) == (7.5, 2, 0)
    assert applied.monitor.ef_search is None and applied.sync_max_lag_s == 1.0
    assert applied.monitor.min_recall == settings.monitor.min_recall and applied.home == settings.home


@pytest.mark.parametrize(("name", "value", "message"), [
    ("min_recall", 1.2, "Param 'min_recall'=1.2 must be a number between 0.0 and 1.0"),
    ("keep", 2.5, "Param 'keep'=2.5 must be a whole number at least 1"),
    ("keep", True, "Param 'keep'=True must be a whole number"),
    ("max_p95_ms", "50", "Param 'max_p95_ms'='50' must be a number"),
    ("max_p95_ms", None, "Param 'max_p95_ms'=None must be a number"),
    ("ef_search", 0, "Param 'ef_search'=0 must be a whole number between 1 and 1000 or empty"),
    ("vacuum_dead_ratio", float("nan"), "Param 'vacuum_dead_ratio'=nan must be a number"),
])
def test_an_unusable_value_is_refused_naming_the_param(name: str, value: Any, message: str) -> None:
    with pytest.raises(SettingError, match=f"^{message}".replace("(", r"\(").replace(")", r"\)")):
        apply_thresholds(load_settings(), _defaults() | {name: value}, ALL)


def test_a_missing_param_is_named() -> None:
    params = _defaults()
    del params["retention_days"]
    with pytest.raises(SettingError, match="Param 'retention_days' is missing"):
        apply_thresholds(load_settings(), params, BACKUP_THRESHOLDS)


def test_collections_and_dry_run() -> None:
    live = ["a", "b", "c"]
    assert chosen_collections({"collections": []}, live) == live == chosen_collections({"collections": None}, live)
    assert chosen_collections({"collections": ["c", "a"]}, live) == ["a", "c"]
    with pytest.raises(RequestError, match=r"^Param 'collections': 'x', 'y' not found; there are: 'a', 'b', 'c'$"):
        chosen_collections({"collections": ["y", "a", "x"]}, live)
    with pytest.raises(SettingError, match="must be a list of collection names"):
        chosen_collections({"collections": "a"}, live)
    assert is_dry_run({"dry_run": True}) and not is_dry_run({"dry_run": None}) and not is_dry_run({})
    with pytest.raises(SettingError, match="Param 'dry_run'='yes' must be true or false"):
        is_dry_run({"dry_run": "yes"})


def test_every_threshold_has_bounds_a_title_and_help() -> None:
    for threshold in THRESHOLDS.values():
        schema = threshold.param().schema
        assert schema["minimum"] == threshold.minimum and schema["section"] == "Thresholds", threshold.name
        assert threshold.env in schema["description_md"] and schema["title"], threshold.name


def test_the_heavy_pool_size_is_a_whole_number_of_at_least_one() -> None:
    assert heavy_pool_slots({}) == 1 == heavy_pool_slots({"VECTOROPS_HEAVY_POOL_SLOTS": " "})
    assert heavy_pool_slots({"VECTOROPS_HEAVY_POOL_SLOTS": "3"}) == 3
    with pytest.raises(SettingError, match=r"^VECTOROPS_HEAVY_POOL_SLOTS=0 must be at least 1"):
        heavy_pool_slots({"VECTOROPS_HEAVY_POOL_SLOTS": "0"})
    with pytest.raises(SettingError, match=r"^VECTOROPS_HEAVY_POOL_SLOTS='two' is not a whole number"):
        heavy_pool_slots({"VECTOROPS_HEAVY_POOL_SLOTS": "two"})
