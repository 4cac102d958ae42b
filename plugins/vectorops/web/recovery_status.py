"""What the Vector Health page shows of point-in-time recovery for the database it reads: the newest verified
recovery drill (and the newest drill when that one did not pass), the RPO each achieved, and the WAL archiver now.

The archiver's state is the server's own (``archive_mode``, ``pg_stat_archiver``, ``pg_current_wal_lsn``), read in
the page's read-only session. PostgreSQL lets every role read them, so ``vectorops_reader`` needs no ``pg_monitor``;
a server that revoked them from PUBLIC shows the archive as unknown, never an error page.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from vectorops.backup.pitr.archive_status import archive_status
from vectorops.backup.pitr.drill_age import stale_reason
from vectorops.db.rows import one_row
from vectorops.db.sql_files import sql_text
from vectorops.web.queries import Target, connect, iso, redacted

log = logging.getLogger(__name__)
_SEGMENT = re.compile(r"^[0-9A-F]{24}")  # a WAL segment's name; `.partial` and `.history` files follow some
_ARCHIVE_KEYS = ("current_wal", "last_archived_wal", "last_archived_at", "last_failed_wal", "last_failed_at",
                 "segments_waiting", "seconds_since_archive", "rpo_seconds", "reason")


def recovery_health(target: Target, max_age_h: float) -> dict[str, Any]:
    """The document of the page's Recovery section: ``database``, ``drills`` and ``archive``.

    ``drills.state`` is ``recorded``, ``none`` (no drill yet), ``no_table`` (no ``vectorops.recovery_drills``) or
    ``unreadable``; ``archive.state`` is ``archiving``, ``behind`` (finished segments wait), ``failing``,
    ``nothing_archived``, ``off``, ``streaming`` (no archiver, but vectorops' receiver streams the WAL through a
    replication slot: ``archive.streams``), ``standby`` or ``unknown``.

    :param target: the vectors database (:func:`vectorops.web.queries.current_target`).
    :param max_age_h: the age from which the newest passed drill is stale (``VECTOROPS_BACKUP_MAX_AGE_HOURS``); no
        drill is stale on a server that archives no WAL.
    :raises DatabaseUnavailable: when it cannot be read.
    """
    with connect(target) as conn:
        archive = _archive(conn)
        drills = _drills(conn, target.dsn, None if archive["state"] == "off" else max_age_h)
        return {"database": conn.info.dbname, "drills": drills, "archive": archive}


def _drills(conn: psycopg.Connection[dict[str, Any]], dsn: str, max_age_h: float | None) -> dict[str, Any]:
    document: dict[str, Any] = {"state": "recorded", "verified": None, "last": None, "stale": None, "reason": None}
    present = one_row(conn.execute("SELECT to_regclass('vectorops.recovery_drills') IS NOT NULL AS present"))
    if not present["present"]:
        return {**document, "state": "no_table"}
    try:
        rows = {row["kind"]: row for row in conn.execute(sql_text("web/select_recovery_drills")).fetchall()}
        with conn.cursor(row_factory=tuple_row) as cur:  # its two columns have no names
            passed_h, first_h = one_row(cur.execute(sql_text("backup/select_drill_ages")))
    except psycopg.errors.InsufficientPrivilege:
        log.warning("vector health: %s may not read vectorops.recovery_drills (grant it SELECT)", conn.info.user)
        return {**document, "state": "unreadable", "reason": f"{conn.info.user} may not read vectorops.recovery_drills"}
    if "last" not in rows:
        return {**document, "state": "none"}
    verified, last = rows.get("verified"), rows["last"]
    return {**document,
            "verified": None if verified is None else {
                "drill_id": verified["drill_id"], "finished_at": iso(verified["finished_at"]),
                "target_at": iso(verified["target_at"]), "backup_id": verified["backup_id"],
                "base_backups": list(verified["base_backups"] or []), "recovery_seconds": verified["recovery_seconds"],
                "rpo_seconds": verified["archive_lag_seconds"], "tables": verified["tables"],
                "total_rows": verified["total_rows"]},
            "last": {"drill_id": last["drill_id"], "status": last["status"], "finished_at": iso(last["finished_at"]),
                     "error": None if last["error"] is None else redacted(last["error"], dsn)},
            "stale": None if max_age_h is None else stale_reason(passed_h, first_h, max_age_h)}


def _archive(conn: psycopg.Connection[dict[str, Any]]) -> dict[str, Any]:
    setting = one_row(conn.execute(sql_text("web/select_wal_archiving")))
    document: dict[str, Any] = {"state": "archiving", "mode": setting["archive_mode"],
                                "archive_timeout_s": setting["archive_timeout_s"], **dict.fromkeys(_ARCHIVE_KEYS),
                                "streams": _streams(conn) if not setting["in_recovery"] else []}
    if setting["archive_mode"] == "off":
        return {**document, "state": "streaming" if document["streams"] else "off"}
    if setting["in_recovery"]:  # no WAL position of its own: the primary's archive is the one that counts
        return {**document, "state": "standby"}
    try:
        status = archive_status(conn)
    except psycopg.errors.InsufficientPrivilege:
        log.warning("vector health: %s may not read pg_stat_archiver or the WAL position", conn.info.user)
        return {**document, "state": "unknown", "reason": f"{conn.info.user} may not read pg_stat_archiver; a "
                                                          "member of pg_monitor may"}
    current = _segment_number(status.current_wal, setting["segment_bytes"])
    archived = _segment_number(status.last_archived_wal, setting["segment_bytes"])
    since = _seconds(setting["now"], status.last_archived_at)
    waiting = rpo = None
    if current is not None and archived is not None:
        waiting = max(0, current - archived - 1)
        # nothing written since the archived segment was closed: everything committed is in the archive
        # a segment that holds only its header and the server's own bookkeeping records holds no transaction
        written = current > archived and _written_into_segment(conn) > BOOKKEEPING_BYTES
        rpo = None if since is None else since if written else 0.0
    state = ("failing" if status.last_failed_wal else "nothing_archived" if status.last_archived_wal is None
             else "behind" if waiting else "archiving")
    return {**document, "state": state, "current_wal": status.current_wal,
            "last_archived_wal": status.last_archived_wal, "last_archived_at": iso(status.last_archived_at),
            "last_failed_wal": status.last_failed_wal, "last_failed_at": iso(status.last_failed_at),
            "segments_waiting": waiting, "seconds_since_archive": since, "rpo_seconds": rpo}


#: what a segment holds without any transaction: its page header, a switch's or the bgwriter's running-xacts records
BOOKKEEPING_BYTES = 256


def _written_into_segment(conn: psycopg.Connection[dict[str, Any]]) -> int:
    """Bytes of WAL in the segment being written now."""
    row = one_row(conn.execute("SELECT (pg_walfile_name_offset(pg_current_wal_lsn())).file_offset AS offset"))
    return int(row["offset"])


def _streams(conn: psycopg.Connection[dict[str, Any]]) -> list[dict[str, Any]]:
    """The slots vectorops' WAL receiver streams through (an external server's PITR): active or not, and the WAL the
    server keeps for each, which grows while nothing receives it."""
    try:
        return [dict(row) for row in conn.execute(sql_text("web/select_wal_slots")).fetchall()]
    except psycopg.errors.InsufficientPrivilege:
        return []


def _segment_number(name: str | None, segment_bytes: int) -> int | None:
    """The position of a WAL segment in the WAL (whatever its timeline); ``None`` for a history file."""
    if name is None or not _SEGMENT.match(name):
        return None
    return int(name[8:16], 16) * (0x1_0000_0000 // segment_bytes) + int(name[16:24], 16)


def _seconds(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())
