"""What the Vector Health page reads: one row per migrated collection, and the search metrics over time.

Every read runs in a short, read-only session (:func:`connect`), so a slow or unreachable database makes the page
fail fast with :class:`DatabaseUnavailable` instead of hanging the API server's worker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from vectorops.alerts.send import run_url
from vectorops.config import load_settings
from vectorops.db.dsn import role_dsn
from vectorops.db.roles import READER
from vectorops.db.rows import one_row
from vectorops.db.sql_files import sql_text, statement
from vectorops.errors import VectoropsError
from vectorops.migration.summary import is_cli_run
from vectorops.redaction import known_secrets, redact_text

log = logging.getLogger(__name__)
MIGRATION_DAG_ID = "chroma_to_pgvector"
CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_MS = 10_000
# Tables whose planner estimate is above this are not counted exactly: count(*) would scan them on every view.
EXACT_COUNT_LIMIT = 2_000_000


class DatabaseUnavailable(VectoropsError, RuntimeError):
    """The vectors database could not be read.

    :param host: host of the database, from its DSN.
    :param port: port of the database, from its DSN.
    :param reason: the error, with credentials redacted.
    """

    def __init__(self, host: str, port: str, reason: str) -> None:
        super().__init__(f"the vectors database at {host}:{port} is unavailable: {reason}")
        self.host, self.port, self.reason = host, port, reason


@dataclass(frozen=True)
class Target:
    """The database the page reads: its DSN and where it is, for error messages (never the password)."""

    dsn: str
    host: str
    port: str


def current_target() -> Target:
    """The vectors database as ``vectorops_reader``: its Airflow connection, else ``VECTOROPS_DSN`` or the embedded
    server with the role's local password (:func:`vectorops.db.dsn.role_dsn`).

    Read on every request, so a changed environment (or a test's monkeypatch) takes effect at once.

    :raises DatabaseUnavailable: when the DSN cannot be parsed.
    :raises SettingError: when another setting is unusable.
    """
    try:
        dsn = role_dsn(load_settings(), READER)
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:  # its message may quote the DSN, password and all
        raise DatabaseUnavailable("?", "?", "VECTOROPS_DSN is not a valid connection string") from None
    return Target(dsn=dsn, host=str(parts.get("host") or parts.get("hostaddr") or "localhost"),
                  port=str(parts.get("port") or 5432))


@contextmanager
def connect(target: Target) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A read-only session with a short ``connect_timeout`` and ``statement_timeout``.

    :raises DatabaseUnavailable: when the server cannot be reached or a statement fails on the way.
    """
    options = " ".join(filter(None, [str(conninfo_to_dict(target.dsn).get("options") or ""),
                                     f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                                     "-c default_transaction_read_only=on"]))
    try:
        with psycopg.connect(target.dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True, options=options,
                             application_name="vectorops-health", row_factory=dict_row) as conn:
            yield conn
    except psycopg.Error as exc:
        raise DatabaseUnavailable(target.host, target.port, _redacted(exc, target.dsn)) from None


def collection_health(target: Target) -> list[dict[str, Any]]:
    """One document per migrated collection; empty when nothing was migrated (or the schema does not exist yet).

    :param target: the vectors database (:func:`current_target`).
    :raises DatabaseUnavailable: when it cannot be read.
    """
    with connect(target) as conn:
        if not _has_registry(conn):
            return []
        rows = conn.execute(sql_text("web/select_collection_health")).fetchall()
        timings = _migration_timings(conn)
        return [_document(row, *_row_count(conn, row), timings.get(row["collection"])) for row in rows]


def _migration_timings(conn: psycopg.Connection[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last migration's timings per collection; none when the role may not read the ledger's timing columns
    (a database bootstrapped before they were granted): the page then shows the registry's rows/s, and says why
    in the log."""
    try:
        return {t["collection"]: t for t in conn.execute(sql_text("web/select_migration_timings")).fetchall()}
    except psycopg.errors.InsufficientPrivilege:
        log.warning("vector health: %s may not read the timings of vectorops.migration_runs: load rates and "
                    "end-to-end times are not shown (grant it SELECT on those columns)", READER)
        return {}


def metric_series(target: Target, days: int = 7, max_points: int = 500) -> dict[str, list[dict[str, Any]]]:
    """p95 latency and recall@10 per collection over the last ``days`` days, oldest first.

    :param target: the vectors database (:func:`current_target`).
    :param days: how far back.
    :param max_points: most measurements per collection (the newest are kept).
    :raises DatabaseUnavailable: when it cannot be read.
    """
    series: dict[str, list[dict[str, Any]]] = {}
    with connect(target) as conn:
        if not _has_registry(conn):
            return series
        rows = conn.execute(sql_text("web/select_search_metric_series"),
                            {"days": int(days), "max_points": int(max_points)}).fetchall()
    for row in rows:
        series.setdefault(row["collection"], []).append(
            {"measured_at": row["measured_at"], "p95_ms": row["p95_ms"], "recall_at_10": row["recall_at_10"]})
    return series


def _has_registry(conn: psycopg.Connection[dict[str, Any]]) -> bool:
    row = conn.execute("SELECT to_regclass('vectorops.collection_registry') IS NOT NULL AS present").fetchone()
    return bool(row and row["present"])


def _row_count(conn: psycopg.Connection[dict[str, Any]], row: dict[str, Any]) -> tuple[int | None, bool]:
    """Rows of the live table and whether that is the planner's estimate; ``None`` when the table is gone."""
    if not row["table_exists"]:
        return None, False
    estimate = conn.execute(sql_text("web/select_table_estimate"),
                            {"schema": row["table_schema"], "table": row["table_name"]}).fetchone()
    reltuples = int(estimate["reltuples"]) if estimate else -1
    if reltuples > EXACT_COUNT_LIMIT:
        return reltuples, True
    try:
        counted = one_row(conn.execute(statement("web/count_table_rows",
                                                 table=sql.Identifier(row["table_schema"], row["table_name"]))))
    except (psycopg.errors.UndefinedTable, psycopg.errors.QueryCanceled) as exc:
        # swapped by a promotion since the registry was read, or too big to count in time: this row only
        log.warning("vector health: no row count for %s.%s: %s", row["table_schema"], row["table_name"],
                    type(exc).__name__)
        return (reltuples if reltuples >= 0 else None), reltuples >= 0
    return int(counted["count"]), False


def _document(row: dict[str, Any], rows: int | None, estimated: bool, timing: dict[str, Any] | None
              ) -> dict[str, Any]:
    run_id = row["last_run_id"]
    return {
        "collection": row["collection"],
        "table": f"{row['table_schema']}.{row['table_name']}",
        "rows": rows,
        "rows_estimated": estimated,
        "table_exists": row["table_exists"],
        "dimensions": row["dimensions"],
        "distance": row["distance"],
        "embedding_model": row["embedding_model"],
        "index": {"name": row["index_name"], "type": row["index_method"], "bytes": row["index_bytes"],
                  "valid": row["index_valid"]},
        "last_migration": {"run_id": run_id, "migrated_at": iso(row["migrated_at"]),
                           "loaded_count": row["loaded_count"], "rows_per_s": row["rows_per_s"],
                           # a `vectorops migrate` run is not an Airflow run: no page to link to
                           "run_url": None if is_cli_run(run_id) else run_url(MIGRATION_DAG_ID, run_id),
                           **_timing(timing)},
        "last_validation": None if row["validation_id"] is None else {
            "validation_id": row["validation_id"], "validated_at": iso(row["validated_at"]),
            "stage": row["validation_stage"], "success": row["validation_success"],
            "failed_expectations": list(row["failed_expectations"] or [])},
        "last_backup": None if row["backup_id"] is None else {
            "backup_id": row["backup_id"], "verified_at": iso(row["backup_verified_at"])},
        "search": None if row["measured_at"] is None else {
            "measured_at": iso(row["measured_at"]), "p95_ms": row["p95_ms"], "recall_at_10": row["recall_at_10"],
            "run_id": row["metrics_run_id"]},
        "sync": _sync(row),
    }


def _timing(timing: dict[str, Any] | None) -> dict[str, Any]:
    """The last migration's load rate and where its time went (``None`` each: an attempt the ledger no longer
    holds). ``rows_per_s`` above divides by the attempt's whole working time, the gate included; these do not."""
    keys = ("load_rows_per_s", "end_to_end_seconds", "load_seconds", "validate_seconds", "index_seconds")
    return {key: (timing or {}).get(key) for key in keys}


def _sync(row: dict[str, Any]) -> dict[str, Any]:
    """Where the table stands against its source: live-sync state, lag (``None``: unknown) and the newest sync."""
    last = None if row["sync_id"] is None else {
        "sync_id": row["sync_id"], "kind": row["sync_kind"], "status": row["sync_status"],
        "added": row["sync_added"], "updated": row["sync_updated"], "deleted": row["sync_deleted"],
        "quarantined": row["sync_quarantined"], "started_at": iso(row["sync_started_at"]),
        "finished_at": iso(row["sync_finished_at"]), "error": row["sync_error"]}
    return {"state": row["sync_state"], "read_point": row["read_point"], "read_point_at": iso(row["read_point_at"]),
            "lag_records": row["changes_behind"], "lag_seconds": row["lag_seconds"],
            "lag_checked_at": iso(row["lag_checked_at"]), "cut_over_at": iso(row["cut_over_at"]),
            "last_sync": last}


def iso(value: datetime | None) -> str | None:
    """``value`` as ISO 8601, as the page's documents hold times; ``None`` stays ``None``."""
    return value.isoformat() if value is not None else None


def redacted(text: str, dsn: str) -> str:
    """``text`` with the environment's secrets and the password of ``dsn`` hidden: safe to show on the page.

    :param text: an error message, e.g. one a job recorded.
    :param dsn: the DSN the page reads with (:attr:`Target.dsn`).
    """
    secrets = set(known_secrets())
    password = conninfo_to_dict(dsn).get("password")
    if password:
        secrets |= {str(password), quote(str(password), safe="")}
    return redact_text(text, secrets)


def _redacted(exc: BaseException, dsn: str) -> str:
    return redacted(f"{type(exc).__name__}: {exc}", dsn)
