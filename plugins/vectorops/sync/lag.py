"""Whether a sync left its table too far behind its source: the lag alert's decision and its message."""

from __future__ import annotations

from dataclasses import dataclass

from vectorops.alerts.send import AlertEvent, run_url
from vectorops.config import Settings
from vectorops.sync.run import SyncResult

EVENT = "sync_lag_breach"


@dataclass(frozen=True)
class LagBreach:
    """A sync after which the oldest unapplied change had waited longer than ``VECTOROPS_SYNC_MAX_LAG_S``.

    :param lag_records: changes written to the source after the sync's read point (``None``: unknown, a server).
    :param lag_seconds: how long the oldest of them had waited when the sync ended.
    :param max_lag_s: the limit it exceeded.
    """

    collection: str
    table: str
    lag_records: int | None
    lag_seconds: float
    max_lag_s: float

    def describe(self) -> str:
        """One line naming the collection, the lag in records and seconds, and the limit."""
        records = "an unknown number of" if self.lag_records is None else str(self.lag_records)
        return (f"collection {self.collection!r} ({self.table}) is {records} change(s) and {self.lag_seconds:.1f}s "
                f"behind its source after its sync, above VECTOROPS_SYNC_MAX_LAG_S={self.max_lag_s:g}s")

    def event(self, dag_id: str | None, run_id: str | None) -> AlertEvent:
        """The alert for this breach.

        :param dag_id: the DAG, ``None`` outside Airflow.
        :param run_id: the run.
        """
        return AlertEvent(
            event=EVENT, dag_id=dag_id, run_id=run_id, collection=self.collection, table=self.table,
            failed_expectations=[{"expectation": "sync_lag_seconds",
                                  "observed": {"lag_seconds": round(self.lag_seconds, 3),
                                               "lag_records": self.lag_records, "max_lag_s": self.max_lag_s}}],
            run_url=run_url(dag_id, run_id) if dag_id and run_id else None, message=self.describe())


def lag_breach(result: SyncResult, settings: Settings) -> LagBreach | None:
    """The breach when ``result`` left its table more than ``settings.sync_max_lag_s`` behind, else ``None``.

    :param result: a finished sync.
    :param settings: the platform settings (``VECTOROPS_SYNC_MAX_LAG_S``).
    """
    if result.lag_seconds <= settings.sync_max_lag_s:
        return None
    return LagBreach(result.collection, result.table, result.lag_records, result.lag_seconds, settings.sync_max_lag_s)
