"""The point-in-time recovery side of ``vectorops backup`` and ``vectorops restore``: base backups, the recovery
drill, the off-site copy, an external server's WAL stream, and recoveries to a time (``--to-time``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from vectorops.cli.log_file import quiet
from vectorops.cli.report_lines import print_failures
from vectorops.migration.summary import cli_run_id


def base_backup(settings: Any, *, full: bool) -> int:
    from vectorops.backup.errors import BackupError
    from vectorops.backup.pitr.base_backup import take_base_backup
    from vectorops.backup.pitr.retention import apply_retention

    try:
        with quiet():
            backup = take_base_backup(settings, full=full)
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    on = f" on {backup.parent}" if backup.parent else ""
    if backup.note:
        print(f"warning: {backup.note}", file=sys.stderr)
    wal = "streamed by the pgvector_wal_stream DAG" if settings.external_dsn else "archived"
    print(f"base backup {backup.label} ({backup.kind}{on}): {backup.size_bytes / 1e6:.1f} MB in {backup.directory}, "
          f"verified by pg_verifybackup; WAL {wal} into {settings.pitr.wal_dir}")
    try:
        with quiet():
            kept = apply_retention(settings, settings.pitr.keep_full)
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    print(f"retention: kept {len(kept.kept)} base backup(s) in {kept.chains} full chain(s) (VECTOROPS_BASE_KEEP_FULL="
          f"{settings.pitr.keep_full}), expired {len(kept.expired)}; WAL kept from {kept.wal_from}, "
          f"{kept.wal_removed} segment(s) removed")
    return 0


def _target_time(when: str) -> Any:
    """The time ``--to-time`` names; ``None`` for ``latest`` (every transaction the archive holds)."""
    from datetime import datetime

    if when.strip().lower() == "latest":
        return None
    try:
        return datetime.fromisoformat(when.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--to-time {when!r} is not an ISO 8601 time (2026-12-06T03:15:00Z) nor latest") from None


def drill(settings: Any) -> int:
    from vectorops.backup import jobs
    from vectorops.backup.pitr.base_backup import not_archiving
    from vectorops.backup.pitr.drill import DRILL_FAILED, run_drill
    from vectorops.db.bootstrap import bootstrap

    reason = not_archiving(settings)
    if reason is not None:
        print(f"vectorops: error: {reason}", file=sys.stderr)
        return 1
    with quiet():
        report = run_drill(settings, bootstrap(settings))
        if report.status == "failed":
            jobs.alert(DRILL_FAILED, report.describe(), report.failures, dag_id=None, run_id=cli_run_id())
    print(("PASSED " if report.status == "passed" else report.status.upper() + " ") + report.describe())
    if report.archive_lag_seconds is not None:
        print(f"the WAL archive's newest segment was archived {report.archive_lag_seconds:.0f}s before the drill")
    print_failures(report.failures if report.status == "failed" else [])
    return 1 if report.status == "failed" else 0


def offsite(settings: Any) -> int:
    from vectorops.backup.errors import BackupError
    from vectorops.backup.pitr.offsite import copy_offsite

    try:
        with quiet():
            copied = copy_offsite(settings)
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    print(f"off-site copy {copied.remote}: {copied.wal_copied} WAL file(s) and {len(copied.base_copied)} base "
          f"backup(s) copied ({copied.bytes_copied / 1e6:.1f} MB) in {copied.seconds:.1f}s; newest WAL segment "
          f"there {copied.newest_wal}; expired {len(copied.expired)} base backup(s), {copied.wal_removed} WAL file(s)")
    return 0


def receive_wal(settings: Any, seconds: float) -> int:
    from vectorops.backup.errors import BackupError
    from vectorops.backup.pitr.wal_receiver import receive_wal

    if not 0 < seconds <= 86400:
        raise ValueError(f"--receive-wal {seconds:g}: give the seconds to stream, from 1 to 86400")
    try:
        with quiet():
            received = receive_wal(settings, seconds)
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    print(f"streamed the external server's WAL into {settings.pitr.wal_dir} for {received.seconds:.0f}s through "
          f"replication slot {received.slot}: {received.segments} whole segment(s); newest {received.newest}")
    return 0


def drop_wal_slot(settings: Any) -> int:
    from vectorops.backup.errors import BackupError
    from vectorops.backup.pitr.wal_receiver import stop_and_drop_slot

    try:
        dropped = stop_and_drop_slot(settings)
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    print(f"dropped replication slot {dropped}" if dropped else
          f"no replication slot recorded in {settings.pitr.directory}: nothing dropped")
    return 0


def _from_offsite(settings: Any, offsite: bool) -> bool:
    """Recover from the off-site copy: when asked, or when the local repository holds no base backup at all."""
    from vectorops.backup.pitr.catalog import base_backups

    if offsite and not settings.pitr.remote:
        raise ValueError("--offsite needs VECTOROPS_PITR_REMOTE: the off-site repository's URL")
    if offsite or not settings.pitr.remote or base_backups(settings.pitr.base_dir):
        return offsite
    print(f"the local repository {settings.pitr.directory} holds no base backup: recovering from the off-site copy "
          f"{settings.pitr.remote}", file=sys.stderr)
    return True


def restore_time_into(settings: Any, when: str, dsn: str, clean: bool, offsite: bool) -> int:
    from vectorops.backup.errors import BackupError
    from vectorops.backup.pitr.restore_into import restore_time_into

    target = _target_time(when)
    try:
        with quiet():
            server, report = restore_time_into(settings, target, dsn, clean=clean, run_id=cli_run_id(),
                                               offsite=_from_offsite(settings, offsite))
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    print(f"restored the vector schemas as of {server.target.isoformat()} (base backup(s) {', '.join(server.chain)} "
          f"and the WAL archive) into {report.target} in {report.seconds:.1f}s"
          + (f", replacing schema(s) {', '.join(report.replaced)}" if report.replaced else ""))
    print(f"VERIFIED {report.tables} table(s), {report.rows} vector rows: counts, checksums and top-10 queries match "
          "the recovered server's")
    for warning in report.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    return 0


def restore_to_time(settings: Any, when: str, offsite: bool) -> int:
    from vectorops.backup.errors import BackupError
    from vectorops.backup.pitr.offsite_fetch import recover_offsite
    from vectorops.backup.pitr.recover import recover_latest, recover_to_time

    target = _target_time(when)
    from_offsite = _from_offsite(settings, offsite)
    try:
        with quiet():
            server = (recover_offsite(settings, target) if from_offsite else recover_latest(settings)
                      if target is None else recover_to_time(settings, target))
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    reached = (f"the end of the archive (its last transaction committed at {server.target.isoformat()})"
               if target is None else server.target.isoformat())
    print(f"recovered to {reached} from base backup(s) {', '.join(server.chain)} and the WAL "
          f"archive{' (off-site)' if from_offsite else ''} in {server.seconds:.1f}s")
    print(f"a scratch server on 127.0.0.1:{server.port}, data in {server.directory}; stop it with: "
          f"vectorops restore --stop {server.directory}")
    print(server.dsn)
    return 0


def stop_recovered(settings: Any, directory: str) -> int:

    from vectorops.backup.pitr.recover import remove_recovered

    given = Path(directory).expanduser().resolve()
    recovered = (settings.home / "recovered").resolve()
    # only a copy `restore --to-time` made is removed: VECTOROPS_HOME/recovered/<time>-<token>[/data], also one whose
    # restore was killed before its server started
    data = given if given.parent.parent == recovered and given.name == "data" else \
        given / "data" if given.parent == recovered else None
    if data is None:
        raise ValueError(f"--stop {directory!r} is not the data directory of a server `vectorops restore --to-time` "
                         f"started (those are under {settings.home / 'recovered'})")
    stopped = remove_recovered(data)
    print(("stopped the recovered server and removed " if stopped else "no server ran; removed ") + str(data.parent))
    return 0
