"""What Airflow knows of a DAG's schedule: its timetable, whether it is paused, and when its next run is due.

Read in-process from the metadata database (the Vector Health page runs inside the API server), the same fields
the REST API's ``GET /dags/{dag_id}`` serves (``timetable_summary``, ``timetable_description``, ``is_paused``,
``next_dagrun_run_after``), so the page never restates a cron expression of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DagSchedule:
    """A DAG's schedule as the scheduler sees it.

    :param dag_id: the DAG.
    :param summary: the timetable in short (a cron expression, ``@daily``, ``None`` for an unscheduled DAG).
    :param description: the timetable in words (e.g. "Every 15 minutes").
    :param paused: whether the scheduler holds its runs back.
    :param next_run_at: when the scheduler will create its next run (``None``: no run is due).
    """

    dag_id: str
    summary: str | None
    description: str | None
    paused: bool
    next_run_at: datetime | None


def dag_schedule(dag_id: str) -> DagSchedule | None:
    """The schedule of ``dag_id`` from Airflow's metadata database.

    :param dag_id: the DAG.
    :return: its schedule, or ``None`` when no DAG processor has recorded it (not parsed yet, or removed).
    :raises Exception: whatever SQLAlchemy raises when the metadata database cannot be read.
    """
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session(scoped=False) as session:
        dag = session.get(DagModel, dag_id)
        if dag is None or dag.is_stale:
            return None
        return DagSchedule(dag_id=dag_id, summary=dag.timetable_summary, description=dag.timetable_description,
                           paused=bool(dag.is_paused), next_run_at=dag.next_dagrun_create_after)
