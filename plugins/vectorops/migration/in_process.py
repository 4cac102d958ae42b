"""A migration run in this process, without Airflow: what ``vectorops migrate`` does.

The same steps as the ``chroma_to_pgvector`` DAG's tasks (:mod:`vectorops.airflow.tasks.migration`), called in an
order the DAG allows: per collection, prepare, load every chunk, finalize. One collection's failure does not stop
the next (as the DAG's trigger rules), and it is alerted as a failed task would be.

What Airflow adds around the steps is not here, and that is the point: a run through ``dag.test()`` spent about 9 s
of a 1,000-row migration importing Airflow, parsing the DAG and starting its in-process execution API (BENCHMARKS.md).
So this run is not in Airflow's metadata database (no run in the UI's history, no Asset event, no lineage) and
nothing is retried: a rerun resumes from the chunks that committed. ``vectorops migrate --airflow`` runs the DAG.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vectorops.config import Settings
from vectorops.db.connect import database_lost
from vectorops.errors import ValidationFailed
from vectorops.migration import steps
from vectorops.migration.request import MigrationRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionOutcome:
    """How one collection of an in-process run ended.

    :param collection: the collection's label, as the request listed it.
    :param summary: :func:`~vectorops.migration.steps.finalize`'s summary when it was promoted.
    :param step: the step that failed (``prepare``, ``load`` or ``finalize``; the CLI alerts a lost database, which
        stops the whole run, as ``run``), ``None`` when promoted.
    :param error: what that step raised.
    """

    collection: str
    summary: dict[str, Any] | None = None
    step: str | None = None
    error: Exception | None = None


def run_migration(settings: Callable[[], Settings], request: MigrationRequest, collections: list[str], run_id: str,
                  on_failure: Callable[[CollectionOutcome], None] | None = None) -> list[CollectionOutcome]:
    """Migrate ``collections`` one after another under ``run_id``.

    A lost database connection stops the run (it is every collection's failure); any other error fails its
    collection only.

    :param settings: gives the settings each step connects with (the ETL role's, as each of the DAG's tasks reads
        them when it starts: an IAM login's token lasts minutes, a migration may last longer).
    :param request: the validated request (its preflight already passed).
    :param collections: the labels to migrate, from :func:`~vectorops.migration.request.select_collections`.
    :param run_id: the run the ledger records the attempts under.
    :param on_failure: called with each failed collection's outcome (the alert), before the next one starts.
    :return: one outcome per collection, in order.
    """
    outcomes = []
    for collection in collections:
        outcome = _migrate_one(settings, request, collection, run_id)
        outcomes.append(outcome)
        if outcome.error is not None and on_failure is not None:
            on_failure(outcome)
    return outcomes


def _migrate_one(settings: Callable[[], Settings], request: MigrationRequest, collection: str,
                 run_id: str) -> CollectionOutcome:
    step = "prepare"
    try:
        plan = steps.prepare(settings(), request, collection, run_id)
        step = "load"
        for chunk_no in plan.chunks:
            steps.load(settings(), plan, chunk_no)
        step = "finalize"
        return CollectionOutcome(collection, summary=steps.finalize(settings(), plan))
    except Exception as exc:  # the steps recorded it in the ledger; the next collection still runs
        if database_lost(exc) is not None:  # every collection's, not this one's: the command says so and stops
            raise
        if not isinstance(exc, ValidationFailed):  # a rejection is logged by the step, with its report
            log.exception("collection %r failed in %s", collection, step)
        return CollectionOutcome(collection, step=step, error=exc)
