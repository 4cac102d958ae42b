"""A scratch server recovered to a point in time: ``pg_combinebackup`` of a base backup chain, then the archived
WAL replayed up to the target by the server itself (``restore_command``, ``recovery_target_time``).

The scratch server never archives (``archive_mode=off``): its new timeline must not reach the production archive.
It listens on 127.0.0.1 on a free port, with the production server's logins (they are in the backup).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.archive_status import archive_now
from vectorops.backup.pitr.base_backup import repository_lock, verify_backup
from vectorops.backup.pitr.catalog import BaseBackup, base_backups, chain_before
from vectorops.backup.pitr.server_login import server_env, server_login
from vectorops.config import Settings
from vectorops.db import runtime, scratch_server

log = logging.getLogger(__name__)

#: how long the server may take to replay the WAL up to the target
RECOVERY_TIMEOUT_S = 3600.0
SERVER_LOG = "recovery.log"


@dataclass(frozen=True)
class RecoveredServer:
    """A scratch server recovered to ``target``.

    :param directory: its data directory (stop it with :func:`stop_recovered`, then remove it).
    :param port: its port on 127.0.0.1.
    :param dsn: its ``vectorops`` database, as the production superuser.
    :param target: the point in time it holds.
    :param chain: the labels of the base backups it was combined from, oldest first.
    :param seconds: combining, starting and replaying, in all.
    """

    directory: Path
    port: int
    dsn: str
    target: datetime
    chain: tuple[str, ...]
    seconds: float


def _combine(settings: Settings, chain: list[BaseBackup], data: Path) -> None:
    args = [str(runtime.bin_dir() / "pg_combinebackup"), *[str(b.data) for b in chain], "-o", str(data)]
    done = runtime.run_as_server(args, env=server_env(settings))
    if done.returncode != 0:
        raise BackupError(f"pg_combinebackup of {', '.join(b.label for b in chain)} into {data} failed with exit code "
                          f"{done.returncode}:\n{done.stdout.strip()[-4000:]}")


def recover_to_time(settings: Settings, target: datetime, *, archive_first: bool = True) -> RecoveredServer:
    """Start a scratch server holding the embedded server's data as it was at ``target``.

    The newest base backup that had finished by ``target`` and the backups it was taken on are combined into
    ``VECTOROPS_HOME/recovered/<time>-<token>/data``; the server replays the archived WAL and stops before the
    first transaction that committed after ``target``, then opens as a primary on a free port.

    :param settings: the settings (repository, home, the production logins).
    :param target: the point in time (timezone-aware).
    :param archive_first: when the production server runs, archive what it has written so far first
        (:func:`~vectorops.backup.pitr.archive_status.archive_now`), so that a recent target is in the archive.
    :return: the running scratch server.
    :raises BackupError: naming the target and what is missing (a base backup before it, WAL after it) or the
        server's own error, with its log's tail. Nothing is left running.
    """
    if target.tzinfo is None:
        raise BackupError(f"recovery target {target.isoformat()} has no time zone: give one (2026-12-06T03:15:00Z)")
    now = datetime.now(UTC)
    if target > now:
        raise BackupError(f"recovery target {target.isoformat()} is in the future (now {now.isoformat()})")
    chain = chain_before(base_backups(settings.pitr.base_dir), target)
    return _recover(settings, chain, f"recovery_target_time={target.isoformat()}", target, target.isoformat(),
                    archive_first=archive_first)


def recover_to_lsn(settings: Settings, lsn: str, taken_at: datetime) -> RecoveredServer:
    """Start a scratch server holding the embedded server's data as of the WAL position ``lsn`` (inclusive).

    :param settings: the settings.
    :param lsn: the WAL position (``0/4000028``), for instance the one a logical backup's snapshot recorded.
    :param taken_at: when the server was at ``lsn``: the chain is the newest base backup that had finished by then.
    :return: the running scratch server (its ``target`` is ``taken_at``).
    :raises BackupError: as :func:`recover_to_time`.
    """
    chain = chain_before(base_backups(settings.pitr.base_dir), taken_at)
    return _recover(settings, chain, f"recovery_target_lsn={lsn}", taken_at, f"WAL position {lsn}",
                    archive_first=True)


def recover_latest(settings: Settings, *, archive_first: bool = True) -> RecoveredServer:
    """Start a scratch server holding every transaction the archive has, the last one included: the newest chain,
    and all the WAL after it (``.partial`` too), replayed to its end. What a lost server can still give back.

    :param settings: the settings.
    :param archive_first: as :func:`recover_to_time`.
    :return: the running scratch server; its ``target`` is when the last transaction it replayed committed (when it
        replayed none: the time of the command).
    :raises BackupError: as :func:`recover_to_time`.
    """
    now = datetime.now(UTC)
    chain = chain_before(base_backups(settings.pitr.base_dir), now)
    server = _recover(settings, chain, None, now, "the end of the archive", archive_first=archive_first)
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_last_xact_replay_timestamp()").fetchone()
    return replace(server, target=row[0] if row and row[0] is not None else now)


def _recover(settings: Settings, chain: list[BaseBackup], target_option: str | None, target: datetime,
             described: str, *, archive_first: bool) -> RecoveredServer:
    """Combine ``chain``, start a server that replays the archive up to ``target_option`` and promotes; wait."""
    started = time.perf_counter()
    if archive_first and not settings.external_dsn and runtime.running_port(settings.pgdata) is not None:
        with psycopg.connect(runtime.dsn(settings, "postgres"), autocommit=True) as conn:
            archiving = conn.execute("SELECT current_setting('archive_mode')").fetchone()
            if archiving and archiving[0] != "off":
                archive_now(conn)
            else:
                log.warning("the running server archives no WAL (started with VECTOROPS_WAL_ARCHIVE=off): "
                            "recovering from what the archive held before")
    area = settings.home / "recovered"
    scratch_server.remove_abandoned(area)  # what killed recoveries left: never a server handed to the user
    directory, claim = scratch_server.claimed_directory(area, target)
    data = directory / "data"
    try:
        with repository_lock(settings):  # no retention removes the chain while it is read
            for backup in chain:
                verify_backup(settings, backup)
            _combine(settings, chain, data)
        signal = data / "recovery.signal"
        signal.touch()
        shutil.chown(signal, *_owner(data))
        port = scratch_server.free_port()
        restore = shlex.quote(f"restore_command={restore_command(settings.pitr.wal_dir)}")
        hba = _private_hba(data)
        options = [
            *scratch_server.listen_options(port),
            "-c archive_mode=off", "-c summarize_wal=off", "-c wal_level=replica",
            f"-c max_wal_senders={runtime.MAX_WAL_SENDERS}",
            f"-c {restore}", *([f"-c {shlex.quote(target_option)}"] if target_option else []),
            "-c recovery_target_action=promote",
            f"-c hba_file={shlex.quote(str(hba))}", "-c ssl=off",
            "-c shared_preload_libraries=pg_stat_statements", f"-c max_connections={runtime.MAX_CONNECTIONS}",
        ]
        done = scratch_server.start(data, options, log_file=data / SERVER_LOG, timeout_s=600)
        if done.returncode != 0:
            raise BackupError(_failed(data, described, f"the server recovered from {chain[-1].label} did not start"))
        user, password = server_login(settings)
        dsn = make_conninfo(host="127.0.0.1", port=port, user=user, password=password,
                            dbname=_database(settings))
        _wait_promoted(dsn, data, described)
    except BaseException:
        remove_recovered(data)
        os.close(claim)
        raise
    scratch_server.hand_over(directory, claim)
    seconds = time.perf_counter() - started
    log.info("recovered to %s from base backup(s) %s in %.1fs: a scratch server on 127.0.0.1:%s (%s)",
             described, ", ".join(b.label for b in chain), seconds, port, data)
    return RecoveredServer(data, port, dsn, target, tuple(b.label for b in chain), seconds)


def restore_command(wal_dir: Path) -> str:
    """The ``restore_command`` that reads the repository's archive: a segment, else its ``.partial`` file (the one
    ``pg_receivewal`` was receiving, read as far as it got)."""
    return f'f={shlex.quote(str(wal_dir))}/%f; test -f "$f" || f="$f.partial"; cp "$f" %p'


#: the recovered server's only logins: 127.0.0.1, by password (``md5`` takes SCRAM verifiers too); the backup's own
#: pg_hba.conf may allow nothing from here, or name certificates this machine lacks
_HBA = "host all all 127.0.0.1/32 md5\n"


def _private_hba(data: Path) -> Path:
    hba = data / "vectorops_hba.conf"
    hba.write_text(_HBA, encoding="utf-8")
    hba.chmod(0o600)
    shutil.chown(hba, *_owner(data))
    return hba


def _database(settings: Settings) -> str:
    """The database the recovered server's DSN names: ``vectorops``, or ``VECTOROPS_DSN``'s."""
    if settings.external_dsn:
        return str(conninfo_to_dict(settings.external_dsn).get("dbname") or "postgres")
    return "vectorops"


def _owner(path: Path) -> tuple[int, int]:
    found = path.stat()
    return found.st_uid, found.st_gid


def _failed(data: Path, described: str, what: str) -> str:
    """One line on why a recovery to ``described`` failed, then the server log's tail."""
    tail = scratch_server.log_tail(data / SERVER_LOG)
    if "before configured recovery target was reached" in tail:
        last = re.search(r"last completed transaction was at log time ([0-9-]+ [0-9:.+]+)", tail)
        reached = f" (the last transaction it holds committed at {last.group(1)})" if last else ""
        return (f"recovery to {described} failed: the archive ends before it{reached}; recover to an earlier time, "
                f"or archive the newest WAL first\n{tail}")
    return f"recovery to {described} failed: {what}; see its log\n{tail}"


def _wait_promoted(dsn: str, data: Path, target: str) -> None:
    """Wait until the server has replayed up to ``target`` (described) and left recovery."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    return
        except psycopg.OperationalError as exc:
            if "authentication failed" in str(exc):  # the backup's logins are not these settings': never retried
                refused = str(exc).strip().splitlines()[-1]
                raise BackupError(f"recovery to {target}: the recovered server refuses this login ({refused}): the "
                                  "backup holds the password the server had then; set VECTOROPS_DB_PASSWORD to it"
                                  ) from None
            if runtime.running_port(data) is None:  # it stopped: the target was not reached, or the WAL is missing
                raise BackupError(_failed(data, target, "the server stopped")) from None
        if time.monotonic() > deadline:
            raise BackupError(f"recovery to {target} did not finish within {RECOVERY_TIMEOUT_S:.0f}s:\n"
                              f"{scratch_server.log_tail(data / SERVER_LOG)}")
        time.sleep(0.2)


def stop_recovered(data: Path) -> bool:
    """Stop a scratch server started by :func:`recover_to_time` (immediately: it is thrown away).

    :param data: its data directory.
    :return: ``True`` when one was running.
    """
    return scratch_server.stop(data)


def remove_recovered(data: Path) -> bool:
    """Stop a scratch server :func:`recover_to_time` started and remove its copy (``recovered/<time>-<token>``).

    :param data: its data directory.
    :return: ``True`` when a server was running.
    """
    return scratch_server.remove(data)

