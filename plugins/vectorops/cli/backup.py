"""The ``vectorops backup`` and ``vectorops restore`` commands."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from vectorops.cli import point_in_time
from vectorops.cli.log_file import quiet
from vectorops.cli.report_lines import print_failures
from vectorops.cli.source_args import add_dsn_argument
from vectorops.config import load_settings
from vectorops.migration.summary import cli_run_id


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _mb(value: int | None) -> str:
    return f"{value / 1e6:.1f}" if value is not None else "-"


def _list(dsn: str) -> int:
    from vectorops.backup import ledger

    rows = ledger.list_backups(dsn)
    header = (f"{'backup_id':24} {'status':9} {'started (UTC)':19} {'dump MB':>8} {'chroma MB':>9} {'tables':>6} "
              f"{'rows':>10} {'verify s':>8}  path / error")
    print(header)
    print("-" * len(header))
    for r in rows:
        seconds = f"{r.verify_seconds:.1f}" if r.verify_seconds is not None else "-"
        print(f"{r.backup_id:24} {r.status:9} {r.started_at:%Y-%m-%d %H:%M:%S} {_mb(r.dump_bytes):>8} "
              f"{_mb(r.chroma_bytes):>9} {_cell(r.tables):>6} {_cell(r.total_rows):>10} {seconds:>8}  {r.path}")
        if r.error and r.status == "failed":
            print(f"    error: {r.error[:500]}")
    print(f"{len(rows)} backup(s)")
    return 0


def _check_age(settings: Any, dsn: str) -> int:
    from vectorops.backup import jobs
    from vectorops.backup.pitr.base_backup import not_archiving
    from vectorops.backup.pitr.drill import DRILL_STALE, stale_drill

    freshness = jobs.check_and_alert_freshness(settings, dsn, run_id=_run_id())
    print(("STALE " if freshness.stale else "OK ") + freshness.describe())
    drills = None if not_archiving(settings) is not None else stale_drill(dsn, settings.backup.max_age_h)
    if drills is not None:
        jobs.alert(DRILL_STALE, drills, [{"expectation": "recovery_drill_fresh", "observed": drills}], dag_id=None,
                   run_id=_run_id())
        print(f"STALE {drills}")
    return 1 if freshness.stale or drills is not None else 0


def _sign(settings: Any, directory: Path) -> int:
    from vectorops.backup.take import BackupError
    from vectorops.backup.verify import sign_backup

    try:
        signature = sign_backup(directory, settings.home)
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    print(f"signed backup {directory} ({signature}) on your word: restoring it still replays it as "
          "vectorops_restore and refuses a dump that carries code")
    return 0


def _run_id() -> str:
    return cli_run_id()


def _cmd_backup(args: argparse.Namespace) -> int:
    from vectorops.backup import jobs
    from vectorops.backup.take import BackupError
    from vectorops.db.bootstrap import bootstrap

    settings = load_settings()
    if args.dest is not None:
        if not args.dest.strip():
            raise ValueError("--dest is empty: give the directory backups go to, or leave it out for "
                             "VECTOROPS_BACKUP_DIR")
        directory = Path(args.dest).expanduser().absolute()
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"--dest {args.dest!r} is a file, not a directory")
        existing = next(p for p in (directory, *directory.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"--dest {args.dest!r} cannot be written: {str(existing)!r} is "
                             + ("a file" if not existing.is_dir() else "a directory this user may not write"))
        settings = dataclasses.replace(settings, backup=dataclasses.replace(settings.backup, directory=directory))
    if args.sign:
        return _sign(settings, Path(args.sign))
    if args.base:
        return point_in_time.base_backup(settings, full=args.full)
    if args.drill:
        return point_in_time.drill(settings)
    if args.offsite:
        return point_in_time.offsite(settings)
    if args.receive_wal is not None:
        return point_in_time.receive_wal(settings, args.receive_wal)
    if args.drop_wal_slot:
        return point_in_time.drop_wal_slot(settings)
    if args.full:
        raise ValueError("--full goes with --base: the logical backup is always whole")
    with quiet():
        dsn = bootstrap(settings)
    if args.list:
        return _list(dsn)
    if args.check_age:
        return _check_age(settings, dsn)
    try:
        with quiet():
            outcome = jobs.run_backup(settings, dsn, run_id=_run_id(), retention=not args.no_retention,
                                      new_key=args.new_key)
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    taken, report = outcome.taken, outcome.report
    files = ", ".join(f"{e.name} {e.bytes / 1e6:.1f} MB" for e in taken.manifest.files.values())
    print(f"backup {taken.backup_id} in {taken.directory}: {files}")
    print(f"schemas {', '.join(taken.manifest.schemas)}; {len(taken.manifest.vector_tables)} vector table(s), "
          f"{taken.manifest.total_rows} rows; {len(taken.manifest.tables)} table(s) counted")
    for missing in taken.manifest.missing_tables:
        print(f"  warning: registry table {missing} does not exist and is not in the backup")
    print(("VERIFIED " if report.ok else "FAILED ") + report.describe())
    print_failures(report.failures)
    if outcome.retention is not None:
        print(f"retention: kept {len(outcome.retention.kept)} verified backup(s), expired "
              f"{len(outcome.retention.expired)}")
        for backup_id, reason in outcome.retention.expired:
            print(f"  expired {backup_id}: {reason}")
    return 0 if report.ok else 1


def _cmd_restore(args: argparse.Namespace) -> int:
    from vectorops.backup.restore import restore_backup
    from vectorops.backup.take import BackupError
    from vectorops.db import runtime

    settings = load_settings()
    for flag, value in (("--stop", args.stop), ("--to-time", args.to_time), ("--backup", args.backup)):
        if value is not None and not value.strip():
            raise ValueError(f"{flag} is empty")
    if args.stop:
        return point_in_time.stop_recovered(settings, args.stop)
    if args.to_time:
        if args.dsn:
            return point_in_time.restore_time_into(settings, args.to_time, args.dsn, args.clean, args.offsite)
        if args.clean:
            raise ValueError("--clean goes with --dsn (or --backup): without --dsn, --to-time starts a scratch server "
                             "and replaces nothing")
        return point_in_time.restore_to_time(settings, args.to_time, args.offsite)
    if args.offsite:
        raise ValueError("--offsite goes with --to-time: a logical backup is restored from its directory")
    dsn = args.dsn or runtime.start(settings)
    try:
        with quiet():
            report = restore_backup(Path(args.backup), dsn, clean=args.clean, settings=settings,
                                    ledger_dsn=runtime.dsn(settings), run_id=_run_id())
    except BackupError as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    print(f"restored backup {report.backup_id} ({report.manifest_path.parent}) into {report.target} "
          f"in {report.seconds:.1f}s" + (f", replacing schema(s) {', '.join(report.replaced)}" if report.replaced
                                           else ""))
    print(f"VERIFIED {report.tables} table(s), {report.rows} vector rows: counts, checksums and top-10 "
          "queries match the manifest")
    for warning in report.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    """Add ``backup`` and ``restore`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    backup = sub.add_parser("backup", help="take a verified backup, apply retention (exit 1 when verification fails)")
    mode = backup.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="list the backups in vectorops.backups")
    mode.add_argument("--check-age", action="store_true",
                      help="exit 1 and alert when the newest verified backup is older than "
                           "VECTOROPS_BACKUP_MAX_AGE_HOURS (default 26)")
    mode.add_argument("--no-retention", action="store_true", help="take and verify, but expire nothing")
    mode.add_argument("--base", action="store_true",
                      help="take a physical base backup for point-in-time recovery, checked by pg_verifybackup: "
                           "incremental on the last one, full when the chain's full one is older than "
                           "VECTOROPS_BASE_FULL_DAYS (default 7)")
    mode.add_argument("--drill", action="store_true",
                      help="recovery drill: recover the newest verified backup's snapshot on a scratch server from "
                           "the base backups and the WAL archive and compare it with its manifest (exit 1 and alert "
                           "when it differs)")
    mode.add_argument("--offsite", action="store_true",
                      help="copy the WAL archive and the verified base backups the off-site repository "
                           "(VECTOROPS_PITR_REMOTE) lacks, then expire there what no kept chain needs")
    mode.add_argument("--receive-wal", type=float, metavar="SECONDS",
                      help="stream an external server's WAL (VECTOROPS_DSN) into the repository with pg_receivewal "
                           "through vectorops' replication slot for SECONDS (the pgvector_wal_stream DAG does it "
                           "every 5 minutes)")
    mode.add_argument("--drop-wal-slot", action="store_true",
                      help="drop the replication slot the WAL receiver created, so the external server stops "
                           "keeping WAL for it")
    mode.add_argument("--sign", metavar="DIR",
                      help="sign an unsigned backup (taken before backups were signed) that you vouch for; its files "
                           "must match its manifest")
    backup.add_argument("--full", action="store_true", help="with --base: a full base backup, whatever the chain")
    backup.add_argument("--new-key", action="store_true",
                        help="start a new signing key when it is missing although recorded backups were signed with "
                             "it (those backups can then no longer be restored)")
    backup.add_argument("--dest", metavar="DIR",
                        help="the directory backups go to, each in its own subdirectory (default: "
                             "VECTOROPS_BACKUP_DIR, else VECTOROPS_HOME/backups)")
    add_dsn_argument(backup)
    backup.set_defaults(func=_cmd_backup)

    restore = sub.add_parser("restore", help="verify a signed backup in a scratch database as vectorops_restore, then "
                                             "swap it into a database (exit 1, target unchanged, when it fails)")
    source = restore.add_mutually_exclusive_group(required=True)
    source.add_argument("--backup", help="the backup directory, its manifest.json or its vectors.dump")
    source.add_argument("--to-time", metavar="ISO8601",
                        help="start a scratch server holding the database as it was at this time (from the base "
                             "backups and the WAL archive), on a free port; its DSN is the last line. `latest`: every "
                             "transaction the archive holds, the last one included")
    source.add_argument("--stop", metavar="DIR",
                        help="stop a scratch server --to-time started and remove its copy (its data directory)")
    add_dsn_argument(restore, "the database to restore into (default: VECTOROPS_DSN, else the embedded server's "
                              "vectorops database); the backups are looked up in vectorops' own database",
                     selects_database=False)
    restore.add_argument("--offsite", action="store_true",
                         help="with --to-time: recover from the off-site repository (VECTOROPS_PITR_REMOTE), not the "
                              "local one (the default when the local one holds no base backup)")
    restore.add_argument("--clean", action="store_true",
                         help="replace schemas of the backup that already exist in the target (dropped only "
                              "once the restored copy matches the manifest)")
    restore.set_defaults(func=_cmd_restore)
