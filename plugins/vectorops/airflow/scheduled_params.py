"""The Params of the scheduled DAGs (maintenance, search monitor, backup, data quality, sync): declared at parse
time with today's settings as defaults, applied over the settings when a task runs.

At parse time the defaults come from the environment only, read by the same functions and with the same bounds as
:func:`vectorops.config.load_settings`, so the trigger form shows what a run uses today and a scheduled run gets
exactly that. At run time a task reads its run's Params and :func:`apply_thresholds` puts them over the settings;
a value vectorops cannot use fails the task at once (a :class:`~vectorops.errors.SettingError` naming the Param).

DAG files import this module at parse time: ``airflow.sdk`` and :mod:`vectorops.config` only.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow.sdk import Param

from vectorops.config import BackupSettings, MaintenanceSettings, MonitorSettings, Settings
from vectorops.env_values import float_env, int_env
from vectorops.errors import RequestError, SettingError

THRESHOLDS_SECTION = "Thresholds"
_SECTIONS: dict[str, type] = {"maintenance": MaintenanceSettings, "monitor": MonitorSettings,
                              "backup": BackupSettings, "": Settings}


@dataclass(frozen=True)
class Threshold:
    """A setting a scheduled DAG's run may change.

    :param name: the Param's name.
    :param env: the environment variable that sets it today.
    :param section: the :class:`~vectorops.config.Settings` field that holds it (``""``: on Settings itself).
    :param field: its field there.
    :param integer: a whole number (else any number).
    :param minimum: the smallest value (as ``load_settings`` bounds it).
    :param maximum: the largest, if any.
    :param nullable: ``None`` is a value (``ef_search``: the collection's own).
    :param title: the form's label.
    :param text: what it does, for the form.
    """

    name: str
    env: str
    section: str
    field: str
    integer: bool
    minimum: float
    maximum: float | None
    title: str
    text: str
    nullable: bool = False

    def default(self) -> int | float | None:
        """The value ``load_settings`` would give now, from the environment only.

        :raises SettingError: naming the variable when its value is unusable (the DAG then fails to parse, saying
            so, as every task of it would).
        """
        fallback: Any = next(f.default for f in dataclasses.fields(_SECTIONS[self.section]) if f.name == self.field)
        if self.nullable:
            value = int_env(self.env, 0, int(self.minimum)) if os.environ.get(self.env) else None
            if value is not None and self.maximum is not None and value > self.maximum:
                raise SettingError(f"{self.env}={value} must be between {int(self.minimum)} and {int(self.maximum)}")
            return value
        if self.integer:
            return int_env(self.env, int(fallback), int(self.minimum))
        return float_env(self.env, float(fallback), self.minimum, self.maximum)

    def param(self) -> Param:
        """The Param, with today's value as its default."""
        kind = "integer" if self.integer else "number"
        bounds: dict[str, Any] = {"minimum": self.minimum}
        if self.maximum is not None:
            bounds["maximum"] = self.maximum
        return Param(self.default(), type=["null", kind] if self.nullable else kind, title=self.title,
                     section=THRESHOLDS_SECTION, **bounds,
                     description_md=f"{self.text} Default: `{self.env}` where the DAG files are parsed.")

    def value(self, params: Mapping[str, Any]) -> int | float | None:
        """This Param's value in ``params``, checked.

        :raises SettingError: naming the Param when it is missing, not a number or out of bounds.
        """
        if self.name not in params:
            raise SettingError(f"Param {self.name!r} is missing from the run's Params")
        raw = params[self.name]
        if raw is None and self.nullable:
            return None
        ok = isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw) and (
            not self.integer or float(raw).is_integer())
        if not ok or raw < self.minimum or (self.maximum is not None and raw > self.maximum):
            bound = f"between {self.minimum} and {self.maximum}" if self.maximum is not None else \
                f"at least {self.minimum}"
            kind = "a whole number" if self.integer else "a number"
            raise SettingError(f"Param {self.name!r}={raw!r} must be {kind} {bound}"
                               + (" or empty" if self.nullable else ""))
        return int(raw) if self.integer else float(raw)


_ALL = (
    Threshold("vacuum_dead_ratio", "VECTOROPS_VACUUM_DEAD_RATIO", "maintenance", "vacuum_dead_ratio", False, 0.0, 1.0,
              "VACUUM from dead ratio", "Dead / (live + dead) tuples from which a table is vacuumed."),
    Threshold("vacuum_min_dead_tuples", "VECTOROPS_VACUUM_MIN_DEAD_TUPLES", "maintenance", "vacuum_min_dead", True,
              0, None, "VACUUM from dead tuples", "Fewest dead tuples worth a VACUUM."),
    Threshold("analyze_max_age_hours", "VECTOROPS_ANALYZE_MAX_AGE_HOURS", "maintenance", "analyze_max_age_h", False,
              0.0, None, "ANALYZE after hours", "Hours after which a table's statistics are taken again."),
    Threshold("reindex_churn_ratio", "VECTOROPS_REINDEX_CHURN_RATIO", "maintenance", "reindex_churn_ratio", False,
              0.0, None, "Rebuild from churn", "Rows written since the index build, as a share of the rows it was "
                                                "built on, from which the HNSW index is rebuilt."),
    Threshold("reindex_growth_ratio", "VECTOROPS_REINDEX_GROWTH_RATIO", "maintenance", "reindex_growth_ratio", False,
              0.0, None, "Rebuild from growth", "Growth of the table since the index build from which it is rebuilt."),
    Threshold("max_p95_ms", "VECTOROPS_MONITOR_MAX_P95_MS", "monitor", "max_p95_ms", False, 0.0, None,
              "Max p95 (ms)", "p95 latency above which a table's probe alerts and fails."),
    Threshold("min_recall", "VECTOROPS_MONITOR_MIN_RECALL", "monitor", "min_recall", False, 0.0, 1.0,
              "Min recall@10", "recall@10 below which a table's probe alerts, fails and flags the index."),
    Threshold("ef_search", "VECTOROPS_HNSW_EF_SEARCH", "monitor", "ef_search", True, 1, 1000, "ef_search",
              "`hnsw.ef_search` to probe at, 1 to 1000; empty: each collection's own, from its migration.",
              nullable=True),
    Threshold("keep", "VECTOROPS_BACKUP_KEEP", "backup", "keep", True, 1, None, "Verified backups kept",
              "Newest verified backups retention keeps."),
    Threshold("retention_days", "VECTOROPS_BACKUP_RETENTION_DAYS", "backup", "retention_days", False, 1.0, None,
              "Retention (days)", "Verified backups older than this are expired (the newest one never)."),
    Threshold("max_age_hours", "VECTOROPS_BACKUP_MAX_AGE_HOURS", "backup", "max_age_h", False, 1.0, None,
              "Max backup age (hours)", "Alert when the newest verified backup is older."),
    Threshold("max_lag_s", "VECTOROPS_SYNC_MAX_LAG_S", "", "sync_max_lag_s", False, 0.0, None, "Max lag (s)",
              "Seconds the oldest change a sync left unapplied may wait before the collection's task alerts and "
              "fails."),
)
THRESHOLDS = {t.name: t for t in _ALL}
MAINTENANCE_THRESHOLDS = ("vacuum_dead_ratio", "vacuum_min_dead_tuples", "analyze_max_age_hours", "reindex_churn_ratio",
               "reindex_growth_ratio")
MONITOR_THRESHOLDS = ("max_p95_ms", "min_recall", "ef_search")
BACKUP_THRESHOLDS = ("keep", "retention_days", "max_age_hours")
SYNC_THRESHOLDS = ("max_lag_s",)


def threshold_params(names: Iterable[str]) -> dict[str, Param]:
    """The Params of ``names`` (keys of :data:`THRESHOLDS`), today's values as defaults."""
    return {name: THRESHOLDS[name].param() for name in names}


def collections_param(what: str, command: str) -> Param:
    """``collections``: a list of collection keys, empty for all.

    :param what: what the run does to them, for the form ("probe", "maintain", ...).
    :param command: the ``vectorops`` command whose ``--collection`` takes the same names.
    """
    return Param([], type=["null", "array"], items={"type": "string"}, title="Collections",
                 description_md=f"Collections to {what}, one per line, by key (as `vectorops {command} "
                                "--collection` takes them). Empty: all of them. A collection that is not there "
                                "fails the run at once, naming those that are.")


def dry_run_param(text: str) -> Param:
    """``dry_run``: plan and log, change nothing.

    :param text: what a dry run does, for the form.
    """
    return Param(False, type=["null", "boolean"], title="Dry run", description_md=text)


def apply_thresholds(settings: Settings, params: Mapping[str, Any], names: Iterable[str]) -> Settings:
    """``settings`` with the run's values of ``names`` put over them.

    :param settings: the settings from the environment.
    :param params: the run's Params.
    :param names: which thresholds the DAG has.
    :raises SettingError: naming a Param whose value is unusable.
    """
    for name in names:
        threshold = THRESHOLDS[name]
        change: dict[str, Any] = {threshold.field: threshold.value(params)}
        if threshold.section:
            change = {threshold.section: dataclasses.replace(getattr(settings, threshold.section), **change)}
        settings = dataclasses.replace(settings, **change)
    return settings


def is_dry_run(params: Mapping[str, Any]) -> bool:
    """The run's ``dry_run`` (empty: no).

    :raises SettingError: when it is neither true nor false.
    """
    value = params.get("dry_run")
    if value is not None and not isinstance(value, bool):
        raise SettingError(f"Param 'dry_run'={value!r} must be true or false")
    return bool(value)


def named_collections(params: Mapping[str, Any]) -> list[str]:
    """The run's ``collections`` Param: the names it lists, empty for all.

    :raises SettingError: when it is not a list of names.
    """
    asked = params.get("collections") or []
    if not isinstance(asked, list) or not all(isinstance(c, str) and c.strip() for c in asked):
        raise SettingError(f"Param 'collections'={asked!r} must be a list of collection names")
    return list(asked)


def chosen_collections(params: Mapping[str, Any], available: list[str]) -> list[str]:
    """The collections the run's ``collections`` Param names, in the order of ``available``; all when empty.

    :param params: the run's Params.
    :param available: what the DAG could act on (live or migrated collections).
    :raises RequestError: naming the collections that are not in ``available`` (and those that are).
    """
    asked = named_collections(params)
    if not asked:
        return available
    unknown = sorted(set(asked) - set(available))
    if unknown:
        raise RequestError(f"Param 'collections': {', '.join(map(repr, unknown))} not found; there are: "
                           f"{', '.join(map(repr, available)) or 'none'}")
    return [c for c in available if c in set(asked)]
