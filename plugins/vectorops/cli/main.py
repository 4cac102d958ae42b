"""The ``vectorops`` command: database runtime, migrations, demo data and the local platform."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
from typing import Any

from vectorops.cli import log_file
from vectorops.cli.errors import database_lost, missing_database
from vectorops.cli.help_text import make_plain
from vectorops.cli.progress import collections_bar
from vectorops.cli.source_args import add_dsn_argument, use_dsn
from vectorops.config import load_settings
from vectorops.db.runtime import RuntimeErrorWithLog
from vectorops.errors import SettingError
from vectorops.migration.summary import cli_run_id


def _cmd_validate(args: argparse.Namespace) -> int:
    from vectorops.alerts import send
    from vectorops.quality import gate
    from vectorops.redaction import error_line

    settings = load_settings()
    with log_file.quiet():
        known = gate.migrated_collections(settings)
    if unknown := [name for name in args.collection or [] if name not in known]:
        raise ValueError(f"collection(s) {', '.join(map(repr, unknown))} have not been migrated; migrated "
                         f"collections: {', '.join(map(repr, known)) or 'none'}")
    names = args.collection or known
    if not names:
        print("no migrated collections to validate")
        return 0
    run_id = cli_run_id()
    failed = errored = 0
    with collections_bar("validating", len(names)) as advance:
        for name in names:
            try:
                with log_file.quiet():
                    report = gate.validate_live(settings, name, run_id=run_id)
            except Exception as exc:  # one collection's error never stops the others; it is reported and alerted
                errored += 1
                error = error_line(exc)
                logging.getLogger(__name__).debug("validation of %r could not run", name, exc_info=exc)
                print(f"ERROR {name}: validation could not run: {error}")
                with log_file.quiet():
                    send.send_alert(send.AlertEvent(
                        event="validation_error", dag_id=None, run_id=run_id, collection=name, table=None,
                        failed_expectations=[], run_url=None,
                        message=f"validation of {name!r} could not run: {error}"))
                advance(name)
                continue
            advance(name)
            _print_report(name, report)
            if not report.success:
                failed += 1
                with log_file.quiet():
                    gate.alert_failure(report, event="validation_failed", dag_id=None, run_id=run_id)
    passed = len(names) - failed - errored
    print(f"{passed} of {len(names)} collection(s) passed" + (f", {failed} failed" if failed else "")
          + (f", {errored} could not be validated" if errored else "")
          + f"; Data Docs: {settings.home / 'data_docs' / 'index.html'}")
    return 1 if failed or errored else 0


def _print_report(name: str, report: Any) -> None:
    print(f"{'PASS' if report.success else 'FAIL'} {name} ({report.schema}.{report.table}), "
          f"{report.seconds:.1f}s, validation {report.validation_id}")
    for outcome in report.outcomes:
        observed = json.dumps(outcome.observed, default=str)
        print(f"  {'ok  ' if outcome.success else 'FAIL'} {outcome.expectation:40} "
              f"{observed if len(observed) < 200 else observed[:197] + '...'}")


def _cmd_seed_demo(args: argparse.Namespace) -> int:
    from vectorops.cli.demo import seed_demo_store

    print(seed_demo_store(args.path, rows=args.rows))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from vectorops.cli.platform import run_platform

    return run_platform(load_settings())


def _cmd_dags_folder(args: argparse.Namespace) -> int:
    from vectorops.install_layout import dags_folder

    print(dags_folder())
    return 0


class _Version(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked (reading the package metadata
    on sys.path costs every command's start-up some 20 ms)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print vectorops' version and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("vectorops")
        except PackageNotFoundError:  # a checkout on sys.path, not installed
            found = "(not installed)"
        print(f"{parser.prog} {found}")  # on stdout, as argparse's own version action prints it
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the tests)."""
    parser = argparse.ArgumentParser(prog="vectorops", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True)

    val = sub.add_parser("validate", help="re-validate migrated tables (exit 1 when any fails, and alert)")
    val.add_argument("--collection", action="append", help="collection to validate (repeatable; default: all)")
    add_dsn_argument(val)
    val.set_defaults(func=_cmd_validate)

    seed = sub.add_parser("seed-demo", help="write a small demo Chroma store")
    seed.add_argument("path")
    seed.add_argument("--rows", type=int, default=2000)
    seed.set_defaults(func=_cmd_seed_demo)

    run = sub.add_parser("run", help="run the local platform: database, Airflow, demo data")
    run.set_defaults(func=_cmd_run, log_to_file=False)  # the platform keeps its own logs, and says where

    folder = sub.add_parser("dags-folder", help="print the folder of the vectorops DAGs (for a DAG bundle of your "
                                                "Airflow: docs/installing.md)")
    folder.set_defaults(func=_cmd_dags_folder, log_to_file=False)


    from vectorops.cli import backup, compare, cutover, db, maintenance, migrate, monitor, pools, sync

    db.add_commands(sub)
    migrate.add_commands(sub)
    sync.add_commands(sub)
    cutover.add_commands(sub)
    maintenance.add_commands(sub)
    backup.add_commands(sub)
    monitor.add_commands(sub)
    compare.add_commands(sub)
    pools.add_commands(sub)
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    for name, command in sub.choices.items():
        if command.description is None:
            command.description = helps.get(name)
        # after the command too (vectorops migrate -v); SUPPRESS keeps a -v given before it
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP)
    make_plain(parser)
    return parser


_VERBOSE_HELP = "log to the terminal, at debug level, what otherwise goes to the command's log file"


def _load_dotenv() -> None:
    """Read the project's ``.env`` (local-only values); variables already set win."""
    from dotenv import load_dotenv

    from vectorops.install_layout import dotenv_file

    load_dotenv(dotenv_file(), override=False)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _fail(log: log_file.CommandLog | None, exc: BaseException, message: str, code: int) -> int:
    """``vectorops: error: <message>`` on one line, then ``details: <log path>``; returns ``code``."""
    print(f"vectorops: error: {message}", file=sys.stderr)
    if log is not None:
        log.details(exc)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vectorops`` console script."""
    args = build_parser().parse_args(argv)
    _load_dotenv()
    log = None
    try:
        use_dsn(args)
        log = log_file.begin(load_settings().home, args.command, args.verbose, getattr(args, "log_to_file", True))
        return int(args.func(args))
    except (SettingError, ValueError) as exc:
        return _fail(log, exc, _first_line(exc), 2)
    except RuntimeErrorWithLog as exc:  # the server log it quotes goes to the file
        return _fail(log, exc, _first_line(exc), 1)
    except KeyboardInterrupt as exc:
        return _fail(log, exc, "interrupted", 130)
    except Exception as exc:
        return _unexpected(log, args, exc)
    finally:
        if log is not None:
            log.announce()
            log_file.end(log)
        if argv is None:  # the console script, about to exit; never a caller that goes on (tests call main())
            # The interpreter's last garbage collection walks every object Airflow, SQLAlchemy and pydantic left
            # (2.6 s after a migration here) to free memory the exit frees anyway. Frozen objects are skipped;
            # atexit handlers, logging's flush and reference-counted finalizers still run.
            gc.freeze()


def _unexpected(log: log_file.CommandLog | None, args: argparse.Namespace, exc: Exception) -> int:
    from vectorops.db.connect import login_refused

    if (refused := login_refused(exc)) is not None:  # deterministic: no "run it again"
        return _fail(log, exc, refused, 1)
    if (missing := missing_database(exc)) is not None:  # deterministic too: the DSN names no database
        return _fail(log, exc, f"{missing}: check --dsn or VECTOROPS_DSN, or run `vectorops db up` to create the "
                               "embedded one; retrying will not help", 1)
    if (lost := database_lost(exc)) is not None:
        resumes = " (a migration resumes where it stopped: committed chunks are kept)" \
            if args.command == "migrate" else ""
        return _fail(log, exc, f"lost the connection to the database ({lost}): run the same command again once the "
                               f"server is back{resumes}.", 1)
    if log is None or log.path is None:  # no file to keep the traceback in: the terminal shows it
        raise exc
    return _fail(log, exc, f"{type(exc).__name__}: {_first_line(exc)}", 1)


if __name__ == "__main__":
    sys.exit(main())
