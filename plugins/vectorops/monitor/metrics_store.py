"""Where measurements go: ``vectorops.search_metrics``, and the advice and rebuild requests in ``index_health``."""

from __future__ import annotations

import json

import psycopg

from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text
from vectorops.monitor.measurement import SearchMeasurement


def record_measurement(conn: psycopg.Connection, measurement: SearchMeasurement) -> int:
    """Insert one ``search_metrics`` row; set ``measurement.metric_id``.

    :param conn: a connection to the vectors database.
    :param measurement: the measurement.
    :return: the new ``metric_id``.
    """
    row = measurement.row()
    for column in ("filter", "breaches", "details"):
        row[column] = json.dumps(row[column], default=str) if row[column] is not None else None
    metric_id = one_value(conn.execute(sql_text("monitor/insert_search_metrics"), row))
    measurement.metric_id = int(metric_id)
    return measurement.metric_id


def record_advice(conn: psycopg.Connection, measurement: SearchMeasurement) -> None:
    """Store the advice of ``measurement`` (a value of its ``search_knob``) in ``index_health`` (upsert on the table).

    :param conn: a connection to the vectors database.
    :param measurement: a measurement of an indexed table.
    """
    conn.execute(sql_text("monitor/upsert_index_advice"), {
        "table_schema": measurement.table_schema, "table_name": measurement.table_name,
        "index_name": measurement.index_name, "advised_ef_search": measurement.advised_ef_search,
        "advised_recall": measurement.advised_recall, "search_knob": measurement.search_knob})


def request_rebuild(conn: psycopg.Connection, measurement: SearchMeasurement, reason: str) -> None:
    """Flag the table's index for the next maintenance run: ``rebuild_reason`` and ``rebuild_requested_at``.

    :param conn: a connection to the vectors database.
    :param measurement: the measurement that breached.
    :param reason: a readable sentence with the numbers.
    """
    conn.execute(sql_text("monitor/request_index_rebuild"), {
        "table_schema": measurement.table_schema, "table_name": measurement.table_name,
        "index_name": measurement.index_name, "reason": reason})
