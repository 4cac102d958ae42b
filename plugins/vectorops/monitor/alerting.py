"""Alerts for monitor breaches: one per table per run, naming every threshold it breached."""

from __future__ import annotations

from vectorops.monitor.measurement import SearchMeasurement


def alert_breaches(measurement: SearchMeasurement, *, dag_id: str | None, run_id: str | None) -> bool:
    """Send the breaches of ``measurement`` to every configured alert channel (never raises).

    :param measurement: a recorded measurement.
    :param dag_id: the DAG, ``None`` from the CLI.
    :param run_id: the run.
    :return: whether an alert was due (the measurement breached a threshold).
    """
    event = measurement.event
    if event is None:
        return False
    from vectorops.alerts import send

    send.send_alert(send.AlertEvent(
        event=event, dag_id=dag_id, run_id=run_id, collection=measurement.collection, table=measurement.table,
        failed_expectations=[{"expectation": b["expectation"], "observed": b["observed"]}
                             for b in measurement.breaches],
        run_url=send.run_url(dag_id, run_id), message=measurement.describe()))
    return True
