"""A physical base backup of the embedded server: ``pg_basebackup``, full or incremental, checked by
``pg_verifybackup`` before it counts."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.archive_status import archive_now
from vectorops.backup.pitr.catalog import DATA, BaseBackup, Kind, base_backups, chain_of
from vectorops.backup.pitr.replication_slot import ensure_slot
from vectorops.backup.pitr.server_login import server_conninfo, server_env
from vectorops.config import Settings
from vectorops.db import runtime

log = logging.getLogger(__name__)

#: the settings a base backup needs the server to run with (``VECTOROPS_WAL_ARCHIVE=on``)
ARCHIVING = {"wal_level": "replica", "archive_mode": "on", "summarize_wal": "on"}


def not_archiving(settings: Settings) -> str | None:
    """Why the settings allow no base backup, ``None`` when they do: the WAL archive off; for an external server
    (``VECTOROPS_DSN``), a role that may not replicate or a server that writes too little WAL (that one connects).
    """
    if not settings.pitr.archive:
        return ("VECTOROPS_WAL_ARCHIVE=off: the server archives no WAL, so a base backup could not be recovered to any "
                "point in time; set it to on and restart the server (`vectorops db down`)")
    if not settings.external_dsn:
        return None
    with psycopg.connect(settings.external_dsn, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT current_user, rolreplication OR rolsuper, current_setting('wal_level') "
                           "FROM pg_roles WHERE rolname = current_user").fetchone()
    assert row is not None
    role, replicates, wal_level = row
    if not replicates:
        return (f"the external server's role {role} (VECTOROPS_DSN) may not replicate: base backups and WAL streaming "
                f"need it (ALTER ROLE {role} REPLICATION, and a replication line for it in pg_hba.conf); meanwhile "
                "`vectorops backup` dumps cover it")
    if wal_level == "minimal":
        return ("the external server runs wal_level=minimal: it writes no WAL a recovery could replay; set "
                "wal_level=replica and restart it")
    return None


def _embedded_major() -> int:
    done = runtime.run_as_server([str(runtime.bin_dir() / "pg_config"), "--version"])
    found = re.search(r"PostgreSQL (\d+)", done.stdout)
    if found is None:
        raise BackupError(f"pg_config --version said {done.stdout.strip()!r}, not a PostgreSQL version")
    return int(found.group(1))


def _check_external(settings: Settings) -> int:
    """The external server's timeline, once it is shown to be recoverable by the embedded tools."""
    with psycopg.connect(settings.external_dsn or "", autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int / 10000, "
                           "pg_walfile_name(pg_current_wal_lsn())").fetchone()
    assert row is not None
    major, segment = int(row[0]), str(row[1])
    embedded = _embedded_major()
    if major != embedded:
        raise BackupError(f"the external server runs PostgreSQL {major}; the tools that back it up and recover it "
                          f"are PostgreSQL {embedded}'s (the embedded server's): a physical backup needs the same "
                          "major version; back it up with `vectorops backup` dumps")
    return int(segment[:8], 16)


def check_archiving(settings: Settings) -> int:
    """The server's timeline, once it is shown to archive its WAL and summarise it (the embedded server), or to be
    recoverable by the embedded tools (an external one, whose WAL ``pg_receivewal`` streams).

    :raises BackupError: naming the setting the running server lacks and how to fix it.
    """
    reason = not_archiving(settings)
    if reason is not None:
        raise BackupError(reason)
    if settings.external_dsn:
        return _check_external(settings)
    runtime.start(settings)
    with psycopg.connect(runtime.dsn(settings, "postgres"), autocommit=True) as conn:
        for name, wanted in ARCHIVING.items():
            value = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
            if value is None or value[0] != wanted:
                raise BackupError(f"the embedded server runs with {name}={value[0] if value else '?'}, not {wanted}: "
                                  "it was started before WAL archiving was on; restart it (`vectorops db down`, "
                                  "then any command starts it again)")
        row = conn.execute("SELECT current_setting('basic_archive.archive_directory', true)").fetchone()
        archiving_into = row[0] if row else None
        if archiving_into != str(settings.pitr.wal_dir):
            raise BackupError(f"the embedded server archives its WAL into {archiving_into}, not VECTOROPS_PITR_DIR's "
                              f"{settings.pitr.wal_dir}: it was started with another setting; restart it "
                              "(`vectorops db down`) or set VECTOROPS_PITR_DIR back")
        row = conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()
    return int(row[0]) if row else 1


def verify_backup(settings: Settings, backup: BaseBackup) -> None:
    """Check ``backup``'s files against PostgreSQL's ``backup_manifest`` again (``pg_verifybackup``): a backup damaged
    since it was taken is never combined, nor built on.

    :raises BackupError: naming the backup and what ``pg_verifybackup`` found.
    """
    _run(settings, [str(runtime.bin_dir() / "pg_verifybackup"), "--quiet", str(backup.data)],
         f"pg_verifybackup of base backup {backup.label} ({backup.directory})")


def repository_lock(settings: Settings) -> Any:
    """The repository's lock: base backups, retention and the combining of a recovery take it in turn, so that no
    pass of retention removes what another process is writing or reading."""
    import fasteners

    runtime.server_directory(settings.pitr.directory)
    path = settings.pitr.directory / ".lock"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # private, as every file of the repository
    return fasteners.InterProcessLock(str(path))


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def _kind(settings: Settings, backups: list[BaseBackup], timeline: int, full: bool, now: datetime
          ) -> tuple[Kind, BaseBackup | None, str | None]:
    """Full when asked, when there is none, when the chain's full backup is older than ``full_every_days`` or was
    taken on another timeline (after a recovery), or when the chain is broken (the note says so); else incremental
    on the newest backup."""
    if full or not backups:
        return "full", None, None
    newest = backups[-1]
    try:
        chain = chain_of(backups, newest)
    except BackupError as exc:
        return "full", None, f"{exc}; taking a full backup"
    if newest.timeline != timeline:
        return "full", None, None
    if now - chain[0].finished_at >= timedelta(days=settings.pitr.full_every_days):
        return "full", None, None
    return "incremental", newest, None


def _run(settings: Settings, args: list[str], what: str) -> None:
    done = runtime.run_as_server(args, env=server_env(settings))
    if done.returncode != 0:
        raise BackupError(f"{what} failed with exit code {done.returncode}:\n{done.stdout.strip()[-4000:]}")


def take_base_backup(settings: Settings, *, full: bool = False) -> BaseBackup:
    """Take a base backup into the repository's ``base/<label>/data`` and check it with ``pg_verifybackup``.

    Incremental on the newest backup (only the blocks changed since, from the server's WAL summaries) unless
    ``full`` is asked, there is no backup yet, or the chain's full backup is older than ``VECTOROPS_BASE_FULL_DAYS``.
    WAL is streamed into the backup (``-X stream``), so each one restores on its own, without the archive. A backup
    that fails, or fails verification, is removed: only a verified backup gets its record
    (:data:`~vectorops.backup.pitr.catalog.RECORD`).

    :param settings: the settings (the repository, the server).
    :param full: take a full backup whatever the chain.
    :return: the verified backup.
    :raises BackupError: naming the backup and the tool's own error.
    """
    timeline = check_archiving(settings)
    if settings.external_dsn:
        ensure_slot(settings)  # the server keeps its WAL from now until the receiver has it: no gap after the backup
    with repository_lock(settings):
        backup = _take(settings, timeline, full)
    if settings.external_dsn:  # its WAL is streamed by pg_receivewal (the pgvector_wal_stream DAG)
        return backup
    with psycopg.connect(runtime.dsn(settings, "postgres"), autocommit=True) as conn:
        archive_now(conn)  # the archiver works: a backup whose WAL never reaches the archive recovers no later time
    return backup


def _take(settings: Settings, timeline: int, full: bool) -> BaseBackup:
    base_dir = runtime.server_directory(settings.pitr.base_dir)
    backups = base_backups(base_dir)
    started = datetime.now(UTC)
    kind, parent, note = _kind(settings, backups, timeline, full, started)
    label = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    directory = runtime.server_directory(base_dir / label)
    if parent is not None:
        try:
            verify_backup(settings, parent)
        except BackupError as exc:
            note = f"{str(exc).splitlines()[0]}; taking a full backup instead of one on it"
            kind, parent = "full", None
    args = [str(runtime.bin_dir() / "pg_basebackup"), "--dbname", server_conninfo(settings), "-D",
            str(directory / DATA), "--format=plain", "--wal-method=stream", "--checkpoint=fast",
            f"--label=vectorops {label}", "--no-password"]
    if parent is not None:
        args.append(f"--incremental={parent.data / 'backup_manifest'}")
    clock = time.perf_counter()
    try:
        try:
            _run(settings, args, f"pg_basebackup of {label} into {directory}")
        except BackupError as exc:
            # the server summarises WAL only while archiving is on: a gap (it ran with it off) needs a full backup
            if parent is None or "WAL summar" not in str(exc):
                raise
            note = (f"base backup {label} cannot be incremental on {parent.label} (the server's WAL summaries have "
                    "a gap: it ran without archiving); taking a full backup instead")
            shutil.rmtree(directory / DATA, ignore_errors=True)
            kind, parent = "full", None
            args = [a for a in args if not a.startswith("--incremental=")]
            _run(settings, args, f"pg_basebackup of {label} into {directory}")
        _run(settings, [str(runtime.bin_dir() / "pg_verifybackup"), "--quiet", str(directory / DATA)],
             f"pg_verifybackup of base backup {label} ({directory})")
        start_lsn, start_wal = _start(directory / DATA / "backup_label")
        backup = BaseBackup(label=label, kind=kind, parent=parent.label if parent else None, started_at=started,
                            finished_at=datetime.now(UTC), start_lsn=start_lsn, start_wal=start_wal,
                            timeline=timeline, size_bytes=_size(directory), directory=directory, note=note)
        backup.write_record()
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    if note:
        log.warning("%s", note)
    log.info("base backup %s (%s%s) taken and verified in %.1fs: %.1f MB in %s", label, kind,
             f" on {parent.label}" if parent else "", time.perf_counter() - clock, backup.size_bytes / 1e6, directory)
    return backup


def _start(backup_label: Path) -> tuple[str, str]:
    """The start LSN and WAL file of a backup: ``START WAL LOCATION: 0/4000028 (file 000000010000000000000004)``."""
    for line in backup_label.read_text(encoding="utf-8").splitlines():
        if line.startswith("START WAL LOCATION:"):
            words = line.split()
            return words[3], words[5].rstrip(")")
    raise BackupError(f"{backup_label} names no START WAL LOCATION")
