"""The ``vectorops`` command: database runtime, migrations, demo data and the local platform."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from vectorops.config import SettingError, load_settings
from vectorops.runtime import RuntimeErrorWithLog
from vectorops.summary import cli_run_id


def _cmd_db(args: argparse.Namespace) -> int:
    from vectorops import db, runtime

    settings = load_settings()
    if (args.role is not None) != (args.action == "rotate-password"):
        raise ValueError("vectorops db: ROLE goes with rotate-password only (vectorops db rotate-password ROLE)")
    if args.password_file and args.action != "rotate-password":
        raise ValueError("vectorops db: --password-file goes with rotate-password only")
    if args.action == "rotate-password":
        from vectorops import password_rotation

        role = password_rotation.check_role(args.role)
        password = password_rotation.read_new_password(role, args.password_file)
        for line in password_rotation.rotate_password(runtime.start(settings), settings.home, role, password):
            print(f"vectorops: {line}", file=sys.stderr)
        print(f"the password of {role} was changed (sent as a SCRAM-SHA-256 verifier)")
    elif args.action == "up":
        print(db.bootstrap(settings))
    elif args.action == "down":
        stopped = runtime.stop(settings)
        print("stopped" if stopped else "not running (nothing to stop)")
    else:
        print(runtime.dsn(settings))
    return 0


#: the process-local connection a ``--chroma-conn`` URL becomes
CLI_CHROMA_CONN = "vectorops_cli_chroma"


def chroma_conn_id(value: str | None) -> str | None:
    """``--chroma-conn``: a connection id as it is, or a URL made into this process's connection
    :data:`CLI_CHROMA_CONN` (``AIRFLOW_CONN_VECTOROPS_CLI_CHROMA``, Airflow's JSON form), so its secret never enters
    the params, XCom or logs: only the id does.

    :raises ValueError: naming what is wrong with the URL.
    """
    if not value or "://" not in value:
        return value
    from vectorops.chroma_connection import connection_from_url

    os.environ[f"AIRFLOW_CONN_{CLI_CHROMA_CONN.upper()}"] = connection_from_url(value)
    return CLI_CHROMA_CONN


def _params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        # the DAG's param takes an absolute path; a relative one means the caller's working directory
        "chroma_path": str(Path(args.chroma_path).expanduser().absolute()) if args.chroma_path else None,
        "chroma_host": args.chroma_host, "chroma_port": args.chroma_port,
        "chroma_conn": chroma_conn_id(args.chroma_conn),
        "collections": args.collection or [], "reembed": args.reembed, "target_schema": args.schema,
        "batch_size": args.batch_size, "dry_run": args.dry_run, "previous_table": args.previous_table,
    }


def _cmd_migrate(args: argparse.Namespace) -> int:
    from vectorops import migration_request

    if args.dsn:
        os.environ["VECTOROPS_DSN"] = args.dsn
    settings = load_settings()
    params = _params(args)
    request = migration_request.request_from_params(params, settings)
    collections = migration_request.select_collections(request)
    from vectorops import migration

    if not request.dry_run:  # a dry run lists a refusal among its plan's warnings
        migration.preflight(settings, request, collections)
    if request.dry_run:
        return _print_dry_run(settings, request, collections)
    from vectorops import claims, db
    from vectorops.airflow_run import run_dag

    dsn = db.bootstrap(settings)
    started = time.perf_counter()
    with claims.owner_token_held(dsn):
        state, run_id = run_dag("chroma_to_pgvector", params, settings)
    wall = time.perf_counter() - started
    rows = _run_rows(dsn, run_id, collections)
    _print_summary(rows, wall)
    failed = [r for r in rows if r["status"] != "promoted"]
    if state != "success" or failed:
        print(f"migration run {run_id} finished {state}; {len(failed)} collection(s) not promoted", file=sys.stderr)
        return 1
    return 0


def _run_rows(dsn: str, run_id: str, collections: list[str]) -> list[dict[str, Any]]:
    from vectorops import db
    from vectorops.chroma_store import CollectionRef

    with db.connect(dsn, autocommit=True) as conn:
        # the run's keys, by the label the request listed (a key may carry its store's suffix)
        found = {CollectionRef.parse(r[0]).label: r for r in conn.execute(
            """SELECT collection, status, source_count, loaded_count, quarantined_count, dimensions, distance,
                      rows_per_s, error, table_name, target_schema, reader
               FROM vectorops.migration_runs WHERE run_id = %s""", (run_id,))}
    rows = []
    for name in collections:
        r = found.get(name)
        if r is None:
            rows.append({"collection": name, "status": "not started", "error": "see the log above"})
            continue
        rows.append({"collection": name, "status": r[1], "read": r[2], "loaded": r[3], "quarantined": r[4],
                     "dimensions": r[5], "space": r[6], "rows_per_s": r[7], "error": r[8], "table": f"{r[10]}.{r[9]}",
                     "reader": r[11]})
    return rows


def _print_summary(rows: list[dict[str, Any]], wall: float) -> None:
    from vectorops.summary import format_table

    print("\n".join(format_table(rows)))
    total = sum(r.get("read") or 0 for r in rows)
    rate = total / wall if wall else 0.0
    print(f"{len(rows)} collection(s), {total} rows in {wall:.1f}s ({rate:.0f} rows/s end to end)")


def _print_dry_run(settings: Any, request: Any, collections: list[str]) -> int:
    from vectorops import dry_run

    plans = [dry_run.dry_run_plan(settings, request, name) for name in collections]
    print(f"DRY RUN: nothing will be written. Source {request.source.uri} → schema {request.target_schema}")
    header = (f"{'collection':30} {'rows':>9} {'dims':>5} {'space':>6} {'bytes':>12} {'vectors':>10} "
              f"{'re-embed':>8} {'no-doc kept':>11} {'no-doc quar.':>12} {'index MB':>8} {'build mwm':>9}  "
              "server maintenance_work_mem")
    print(header)
    print("-" * len(header))
    for p in plans:
        print(f"{p['collection'][:30]:30} {p['rows']:>9} {p['dimensions'] or '-':>5} {p['space']:>6} {p['bytes']:>12} "
              f"{p['vectors']:>10} {p['reembed_count']:>8} {p['no_document_kept']:>11} "
              f"{p['no_document_quarantined']:>12} {p['index_memory_mb']:>8} {p['build_maintenance_work_mem_mb']:>8}M"
              f"  {p['server_maintenance_work_mem']}")
    for p in plans:
        for warning in p["warnings"]:
            print(f"WARNING {p['collection']}: {warning}")
    print(json.dumps({"plans": plans}, sort_keys=True))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from vectorops import alerts, quality
    from vectorops.alert_redaction import describe_error, known_secrets

    settings = load_settings()
    known = quality.migrated_collections(settings)
    if unknown := [name for name in args.collection or [] if name not in known]:
        raise ValueError(f"collection(s) {', '.join(map(repr, unknown))} have not been migrated; migrated "
                         f"collections: {', '.join(map(repr, known)) or 'none'}")
    names = args.collection or known
    if not names:
        print("no migrated collections to validate")
        return 0
    run_id = cli_run_id()
    failed = errored = 0
    for name in names:
        try:
            report = quality.validate_live(settings, name, run_id=run_id)
        except Exception as exc:  # one collection's error never stops the others; it is reported and alerted
            errored += 1
            error = (describe_error(exc, known_secrets()).splitlines() or [type(exc).__name__])[0]
            logging.getLogger(__name__).debug("validation of %r could not run", name, exc_info=exc)
            print(f"ERROR {name}: validation could not run: {error}")
            alerts.send_alert(alerts.AlertEvent(
                event="validation_error", dag_id=None, run_id=run_id, collection=name, table=None,
                failed_expectations=[], run_url=None, message=f"validation of {name!r} could not run: {error}"))
            continue
        print(f"{'PASS' if report.success else 'FAIL'} {name} ({report.schema}.{report.table}), "
              f"{report.seconds:.1f}s, validation {report.validation_id}")
        for outcome in report.outcomes:
            observed = json.dumps(outcome.observed, default=str)
            print(f"  {'ok  ' if outcome.success else 'FAIL'} {outcome.expectation:40} "
                  f"{observed if len(observed) < 200 else observed[:197] + '...'}")
        if not report.success:
            failed += 1
            quality.alert_failure(report, event="validation_failed", dag_id=None, run_id=run_id)
    passed = len(names) - failed - errored
    print(f"{passed} of {len(names)} collection(s) passed" + (f", {failed} failed" if failed else "")
          + (f", {errored} could not be validated" if errored else "")
          + f"; Data Docs: {settings.home / 'data_docs' / 'index.html'}")
    return 1 if failed or errored else 0


def _cmd_seed_demo(args: argparse.Namespace) -> int:
    from vectorops.demo import seed_demo_store

    print(seed_demo_store(args.path, rows=args.rows))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from vectorops.local_platform import run_platform

    return run_platform(load_settings())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the tests)."""
    parser = argparse.ArgumentParser(prog="vectorops", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    dbp = sub.add_parser("db", help="the embedded PostgreSQL server")
    dbp.add_argument("action", choices=["up", "down", "dsn", "rotate-password"],
                     help="up: start or reuse it and print its DSN; down: stop it; dsn: print the DSN; "
                          "rotate-password ROLE: give a vectorops role a new password (asked without echo, or read "
                          "from --password-file or a pipe), sent only as a SCRAM-SHA-256 verifier")
    dbp.add_argument("role", nargs="?", help="rotate-password: the role (vectorops_etl, vectorops_maint, "
                                             "vectorops_monitor or vectorops_reader)")
    dbp.add_argument("--password-file", help="rotate-password: read the new password from this file")
    dbp.set_defaults(func=_cmd_db)

    mig = sub.add_parser("migrate", help="migrate Chroma collections into pgvector (runs the DAG in-process)")
    src = mig.add_mutually_exclusive_group()
    src.add_argument("--chroma-path", help="Chroma PersistentClient directory (default: CHROMA_DB_PATH)")
    src.add_argument("--chroma-host", help="Chroma HTTP server host")
    src.add_argument("--chroma-conn", metavar="ID_OR_URL",
                     help="Chroma server through an Airflow connection id (AIRFLOW_CONN_<ID>), or a URL "
                          "http(s)://[login:password@]host:port/?tenant=&database=&token=&ca_bundle=&verify=&"
                          "auth_type= (docs/chroma-servers.md)")
    mig.add_argument("--chroma-port", type=int, default=8000, help="Chroma HTTP server port (default 8000)")
    mig.add_argument("--dsn", help="target PostgreSQL (default: VECTOROPS_DSN or the embedded server)")
    mig.add_argument("--collection", action="append", help="collection to migrate (repeatable; default: all)")
    mig.add_argument("--reembed", default="never",  # validated with the DAG params, for the same message
                     help="never: copy the source vectors; always: embed every document with "
                          "VECTOROPS_EMBEDDING_MODEL; auto: re-embed when the collection's model differs, "
                          "and repair unusable vectors (default never)")
    mig.add_argument("--schema", default="vectors", help="target schema (default vectors)")
    mig.add_argument("--batch-size", type=int, default=5000, help="records per Chroma fetch (default 5000)")
    mig.add_argument("--dry-run", action="store_true", help="print the plan and write nothing")
    mig.add_argument("--previous-table", default="refuse",  # validated with the DAG params
                     help="a collection migrated into another schema before: refuse (default), keep that table "
                          "(still validated and monitored), or drop it once the new one is promoted")
    mig.set_defaults(func=_cmd_migrate)

    val = sub.add_parser("validate", help="re-validate migrated tables (exit 1 when any fails, and alert)")
    val.add_argument("--collection", action="append", help="collection to validate (repeatable; default: all)")
    val.set_defaults(func=_cmd_validate)

    seed = sub.add_parser("seed-demo", help="write a small demo Chroma store")
    seed.add_argument("path")
    seed.add_argument("--rows", type=int, default=2000)
    seed.set_defaults(func=_cmd_seed_demo)

    run = sub.add_parser("run", help="run the local platform: database, Airflow, demo data")
    run.set_defaults(func=_cmd_run)

    from vectorops import cli_backup, cli_compare, cli_maintenance, cli_monitor

    cli_maintenance.add_commands(sub)
    cli_backup.add_commands(sub)
    cli_monitor.add_commands(sub)
    cli_compare.add_commands(sub)
    return parser


def _load_dotenv() -> None:
    """Read the project's ``.env`` (local-only values); variables already set win."""
    from dotenv import load_dotenv

    from vectorops.airflow_env import project_dir

    load_dotenv(project_dir() / ".env", override=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vectorops`` console script."""
    args = build_parser().parse_args(argv)
    _load_dotenv()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (SettingError, ValueError) as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeErrorWithLog as exc:
        print(f"vectorops: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from vectorops.db import login_refused

        if (refused := login_refused(exc)) is not None:  # deterministic: no "run it again"
            logging.getLogger(__name__).debug("the database refused the login", exc_info=exc)
            print(f"vectorops: error: {refused}", file=sys.stderr)
            return 1
        if (missing := _missing_database(exc)) is not None:  # deterministic too: the DSN names no database
            print(f"vectorops: error: {missing}: check VECTOROPS_DSN, or run `vectorops db up` to create the "
                  "embedded one; retrying will not help", file=sys.stderr)
            return 1
        lost = database_lost(exc)
        if lost is None:
            raise
        logging.getLogger(__name__).debug("the database went away", exc_info=exc)
        resumes = " (a migration resumes where it stopped: committed chunks are kept)" if args.func is _cmd_migrate \
            else ""
        print(f"vectorops: error: lost the connection to the database ({lost}): run the same command again once "
              f"the server is back{resumes}.", file=sys.stderr)
        return 1


_MISSING_DATABASE = re.compile(r'FATAL:\s+(database "[^"]*" does not exist)')


def _missing_database(exc: BaseException) -> str | None:
    """``database "x" does not exist`` when ``exc`` (or its chain) is a connection refused for that reason."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            if candidate is not None and (match := _MISSING_DATABASE.search(str(candidate))):
                return f"the server says {match.group(1)}"
        current = current.__cause__ or current.__context__
    return None


def database_lost(exc: BaseException) -> str | None:
    """The first line of the connection error in ``exc``'s chain (psycopg's, or SQLAlchemy's around it), or None.

    Only errors of the connection itself count: refused or closed (no SQLSTATE), class 08, or the server shutting
    down (57P01-57P03). A timeout, a lock wait, a refused login (:func:`vectorops.db.login_refused`) or any other
    SQL error is not a lost database.
    """
    import psycopg

    from vectorops.db import login_refused

    if login_refused(exc) is not None:
        return None

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        original = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
        for candidate in (current, original):
            if isinstance(candidate, psycopg.OperationalError) and _is_connection_state(candidate.sqlstate):
                return (str(candidate).strip().splitlines() or [type(candidate).__name__])[0]
        current = current.__cause__ or current.__context__
    return None


def _is_connection_state(sqlstate: str | None) -> bool:
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}


if __name__ == "__main__":
    sys.exit(main())
