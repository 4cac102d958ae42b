"""Airflow glue for ``pgvector_maintenance``: plan, then maintain one table per mapped task, as ``vectorops_maint``,
with the run's Params (dry run, collections, thresholds) over the settings.

Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from vectorops.airflow.no_retry import no_retry
from vectorops.airflow.scheduled_params import MAINTENANCE_THRESHOLDS, apply_thresholds, is_dry_run, named_collections
from vectorops.airflow.tasks.context import current_context
from vectorops.config import Settings
from vectorops.db.dsn import settings_as
from vectorops.db.roles import MAINT
from vectorops.maintenance import executor

log = logging.getLogger(__name__)

NOTHING_YET = "nothing to do yet: no live vector table (vectorops.collection_registry is empty)"


def _settings() -> Settings:
    """``vectorops_maint``'s settings with the run's thresholds."""
    return apply_thresholds(settings_as(MAINT), current_context()["params"], MAINTENANCE_THRESHOLDS)


@no_retry
def plan_maintenance() -> list[str]:
    """Log the plan of every live table (or of the Params' collections); return the collections that have
    something to do, none on a dry run.

    :raises AirflowSkipException: when no table has anything to do, or none was migrated yet.
    :raises RequestError: naming a bad Param or a collection that was not migrated (the task fails at once).
    """
    from airflow.sdk.exceptions import AirflowSkipException

    params = current_context()["params"]
    dry_run, collections = is_dry_run(params), named_collections(params)
    settings = _settings()
    log.info("planning maintenance of %s%s", f"collection(s) {', '.join(collections)}" if collections else
             "the live vector tables", " (dry run: nothing will be changed)" if dry_run else "")
    with executor.connect(settings) as conn:
        plans = executor.plan(conn, settings, collections or None)
    if not plans:
        raise AirflowSkipException(NOTHING_YET)
    for table_plan in plans:
        for note in table_plan.notes:  # what the plan noticed and acted on (or not): information, not a fault
            log.info("%s: %s", table_plan.state.qualified, note)
        for action in table_plan.actions:
            log.info("planned: %s %s%s: %s", action.kind, table_plan.state.qualified,
                     f" (index {action.index})" if action.index else "", action.reason)
        if not table_plan.actions:
            log.info("%s: nothing to do", table_plan.state.qualified)
    due = [p.state.collection for p in plans if p.actions or p.reset_baseline]
    if not due:
        raise AirflowSkipException(f"nothing to do: {len(plans)} table(s) checked, none needs maintenance")
    if dry_run:
        log.info("dry run: nothing was changed; %s of %s table(s) would be maintained: %s", len(due), len(plans),
                 ", ".join(due))
        return []
    log.info("%s of %s table(s) to maintain: %s", len(due), len(plans), ", ".join(due))
    return due


@no_retry
def maintain_table(collection: str) -> dict[str, Any]:
    """Re-plan one table from the current statistics and run its actions.

    :raises MaintenanceFailed: when an action failed (after the others ran); the failure callback alerts.
    """

    context = current_context()
    context["collection"] = collection
    log.info("maintaining collection %r: re-plan from the current statistics, then act", collection)
    results = executor.maintain(_settings(), [collection], run_id=str(context["run_id"]))
    executor.raise_for_failures(results)
    log.info("collection %r: %s", collection, "; ".join(f"{r.action.kind} {r.status} in {r.seconds:.1f}s"
                                                         for r in results) or "nothing was due any more")
    return {"collection": collection,
            "actions": [{"action": r.action.kind, "index": r.action.index, "status": r.status,
                         "seconds": round(r.seconds, 2), "reason": r.action.reason} for r in results]}
