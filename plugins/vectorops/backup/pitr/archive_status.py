"""How far the WAL archive has come, and archiving everything written so far."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from vectorops.backup.errors import BackupError


@dataclass(frozen=True)
class ArchiveStatus:
    """``pg_stat_archiver`` and the segment being written now.

    :param current_wal: the segment the server writes now.
    :param last_archived_wal: the newest segment archived (``None`` before the first).
    :param last_archived_at: when it was archived.
    :param last_failed_wal: the last segment whose archiving failed, when it failed after the last success.
    :param last_failed_at: when.
    """

    current_wal: str
    last_archived_wal: str | None
    last_archived_at: datetime | None
    last_failed_wal: str | None
    last_failed_at: datetime | None


def archive_status(conn: psycopg.Connection[Any]) -> ArchiveStatus:
    """The archiver's progress on the server ``conn`` is connected to.

    :param conn: an autocommit connection to a primary (not a standby) as a role that may read ``pg_stat_archiver``
        and call ``pg_current_wal_lsn``: every role may, unless the server revoked them; of any row factory.
    """
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT pg_walfile_name(pg_current_wal_lsn()), last_archived_wal, last_archived_time, "
            "CASE WHEN last_failed_time > coalesce(last_archived_time, '-infinity') THEN last_failed_wal END, "
            "CASE WHEN last_failed_time > coalesce(last_archived_time, '-infinity') THEN last_failed_time END "
            "FROM pg_stat_archiver").fetchone()
    assert row is not None  # pg_stat_archiver has one row
    return ArchiveStatus(*row)


def archive_now(conn: psycopg.Connection, timeout_s: float = 60.0) -> str:
    """Make everything committed so far recoverable from the archive: commit a transaction (so that the archive
    holds a commit later than any time before now, which a recovery to that time stops at), switch to a new WAL
    segment and wait until the finished one is archived.

    :param conn: an autocommit connection to the server, as its superuser.
    :param timeout_s: how long to wait for the archiver.
    :return: the segment archived.
    :raises BackupError: when the archiver fails or does not archive it in time, naming the segment.
    """
    with conn.transaction():
        conn.execute("SELECT pg_current_xact_id()")  # an xid, so the commit is written to the WAL
    row = conn.execute("SELECT pg_walfile_name(pg_switch_wal() - 1)").fetchone()
    assert row is not None
    segment = str(row[0])
    deadline = time.monotonic() + timeout_s
    while True:
        status = archive_status(conn)
        if status.last_archived_wal is not None and status.last_archived_wal[:24] >= segment:
            return segment
        if status.last_failed_wal is not None:
            raise BackupError(f"the server could not archive WAL segment {status.last_failed_wal} (at "
                              f"{status.last_failed_at}): see the server log")
        if time.monotonic() > deadline:
            raise BackupError(f"WAL segment {segment} was not archived within {timeout_s:.0f}s (the newest archived is "
                              f"{status.last_archived_wal})")
        time.sleep(0.1)
