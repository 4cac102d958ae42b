"""``vectorops migrate``: the migration's steps run in this process (or, with ``--airflow``, its DAG through
``dag.test()``), its dry run, and the per-collection summary."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from vectorops.cli import log_file, progress
from vectorops.cli.source_args import CLI_CHROMA_CONN as CLI_CHROMA_CONN  # where callers of migrate found it
from vectorops.cli.source_args import add_chroma_arguments, add_dsn_argument, chroma_conn_id
from vectorops.config import load_settings
from vectorops.migration.summary import cli_run_id


def _params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        # the DAG's param takes an absolute path; a relative one means the caller's working directory
        "chroma_path": str(Path(args.chroma_path).expanduser().absolute()) if args.chroma_path else None,
        "chroma_host": args.chroma_host, "chroma_port": args.chroma_port,
        "chroma_conn": chroma_conn_id(args.chroma_conn),
        "collections": args.collection or [], "reembed": args.reembed, "target_schema": args.schema,
        "batch_size": args.batch_size, "dry_run": args.dry_run, "previous_table": args.previous_table,
        "index": args.index,
    }


def _cmd_migrate(args: argparse.Namespace) -> int:
    from vectorops.migration import request as migration_request

    settings = load_settings()
    params = _params(args)
    request = migration_request.request_from_params(params, settings)
    from vectorops.migration import steps

    with log_file.quiet():
        collections = migration_request.select_collections(request)
        if not request.dry_run:  # a dry run lists a refusal among its plan's warnings
            steps.preflight(settings, request, collections)
    if request.dry_run:
        return _print_dry_run(settings, request, collections)
    from vectorops.db.bootstrap import bootstrap
    from vectorops.migration import claims

    with log_file.quiet():
        dsn = bootstrap(settings)
    started = time.perf_counter()
    terminal = progress.terminal()
    errors: dict[str, str] = {}
    try:
        with claims.owner_token_held(dsn) as token, _stopped_by_ctrl_c():
            bars: AbstractContextManager[Any] = (progress.MigrationProgress(dsn, token, terminal) if terminal
                                                 else nullcontext())
            with bars, log_file.quiet():
                if args.airflow:
                    from vectorops.airflow.run import run_dag

                    state, run_id = run_dag("chroma_to_pgvector", params, settings)
                else:
                    # unique across hosts too: a claim taken under the same run id counts as the run's own
                    run_id = f"{cli_run_id()}-{secrets.token_hex(4)}"
                    errors = _run_in_process(params, collections, run_id)
                    state = "failed" if errors else "success"
    finally:
        if terminal:
            terminal.close()
    wall = time.perf_counter() - started
    rows = _run_rows(dsn, run_id, collections, errors)
    log_file.announce()  # before the summary, so the summary ends the output
    _print_summary(rows, wall)
    failed = [r for r in rows if not str(r["status"]).startswith("promoted")]
    if state != "success" or failed:
        print(f"migration run {run_id} finished {state}; {len(failed)} collection(s) not promoted", file=sys.stderr)
        return 1
    return 0


def _run_in_process(params: dict[str, Any], collections: list[str], run_id: str) -> dict[str, str]:
    """Migrate ``collections`` in this process as the ETL role, as the DAG's tasks would, alerting each failure.

    :return: the one-line error of each collection that was not promoted.
    :raises Exception: a lost database, after one alert (it fails every collection left, not one).
    """
    from vectorops.db.connect import database_lost
    from vectorops.db.dsn import settings_as
    from vectorops.db.roles import ETL
    from vectorops.migration import in_process
    from vectorops.migration import request as migration_request
    from vectorops.redaction import error_line

    request = migration_request.request_from_params(params, settings_as(ETL))
    alert = _alert(run_id)
    try:
        # the ETL settings again for every step, as every task read its own: an IAM login's token expires
        outcomes = in_process.run_migration(lambda: settings_as(ETL), request, collections, run_id, on_failure=alert)
    except Exception as exc:
        if database_lost(exc) is not None:
            alert(in_process.CollectionOutcome(", ".join(collections), step="run", error=exc))
        raise
    return {o.collection: error_line(o.error) for o in outcomes if o.error is not None}


def _alert(run_id: str) -> Any:
    """The failure alert of an in-process run: the gate's report for a rejected table, else the step's error."""
    from vectorops.alerts import send
    from vectorops.errors import ValidationFailed
    from vectorops.migration.in_process import CollectionOutcome
    from vectorops.quality import gate
    from vectorops.redaction import error_line

    def alert(outcome: CollectionOutcome) -> None:
        error = outcome.error
        if isinstance(error, ValidationFailed) and isinstance(error.report, gate.ValidationReport):
            gate.alert_failure(error.report, event="migration_gate_failed", dag_id=None, run_id=run_id)
            return
        assert error is not None  # only failed outcomes are alerted
        message = f"{outcome.step} of {outcome.collection!r} failed: {error_line(error)}"
        send.send_alert(send.AlertEvent(
            event="migration_failed", dag_id=None, run_id=run_id, collection=outcome.collection, table=None,
            failed_expectations=[], run_url=None, task_id=outcome.step, message=message[:send.MAX_MESSAGE_CHARS]))

    return alert


@contextmanager
def _stopped_by_ctrl_c() -> Iterator[None]:
    """Ctrl-C (SIGINT) ends the migration at once, as a kill would.

    Under ``--airflow``, Airflow's task runner takes a ``KeyboardInterrupt`` inside a task for that task's failure and
    goes on (a retry, the next task), so the command would finish the migration after the operator asked it to stop;
    in-process, the steps' own handlers would record it as each collection's failure. Ending the
    process is what the migration is built to survive: every chunk that committed stays, its claim ends with its
    session, and the same command again resumes (docs/guarantees.md).
    """
    terminal_fd = os.dup(2)  # the terminal's stderr: fd 2 goes to the log file while the migration runs

    def stop(signum: int, frame: Any) -> None:
        log_path = log_file.written()
        details = f"\ndetails: {log_path}" if log_path else ""
        os.write(terminal_fd, ("\nvectorops: error: interrupted: the migration stops here; the chunks that committed "
                               f"are kept and the same command resumes from them{details}\n").encode())
        os._exit(130)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        os.close(terminal_fd)


def _run_rows(dsn: str, run_id: str, collections: list[str], errors: dict[str, str]) -> list[dict[str, Any]]:
    from vectorops.chroma.preflight import CollectionRef
    from vectorops.db.connect import connect
    from vectorops.migration import ledger, promotion
    from vectorops.migration.summary import promoted_status

    with connect(dsn, autocommit=True) as conn:
        # the run's keys, by the label the request listed (a key may carry its store's suffix)
        found = {CollectionRef.parse(r[0]).label: r for r in ledger.run_rows(conn, run_id)}
        warnings = promotion.promoted_warnings(conn, run_id)
    rows: list[dict[str, Any]] = []
    for name in collections:
        r = found.get(name)
        if r is None:
            rows.append({"collection": name, "status": "not started", "error": errors.get(name) or "see the log"})
            continue
        status = promoted_status(r[12]) if r[1] == "promoted" else r[1]
        rows.append({"collection": name, "status": status, "read": r[2], "loaded": r[3], "quarantined": r[4],
                     "dimensions": r[5], "space": r[6], "rows_per_s": r[7], "error": r[8], "table": f"{r[10]}.{r[9]}",
                     "reader": r[11], "read_point": r[13], "warnings": warnings.get(r[0], [])})
    return rows


def _print_summary(rows: list[dict[str, Any]], wall: float) -> None:
    from vectorops.migration.summary import format_table

    print("\n".join(format_table(rows)))
    total = sum(r.get("read") or 0 for r in rows)
    rate = total / wall if wall else 0.0
    print(f"{len(rows)} collection(s), {total} rows in {wall:.1f}s ({rate:.0f} rows/s end to end)")


def _print_dry_run(settings: Any, request: Any, collections: list[str]) -> int:
    from vectorops.migration import dry_run
    from vectorops.migration.summary import format_plan_table

    with log_file.quiet():
        plans = [dry_run.dry_run_plan(settings, request, name) for name in collections]

    print(f"DRY RUN: nothing will be written. Source {request.source.uri} → schema {request.target_schema}")
    print("\n".join(format_plan_table(plans)))
    print(json.dumps({"plans": plans}, sort_keys=True))
    return 0


def add_commands(sub: Any) -> None:
    """Add ``migrate`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    mig = sub.add_parser("migrate", help="migrate Chroma collections into pgvector (in this process)")
    add_chroma_arguments(mig, "Chroma PersistentClient directory (default: CHROMA_DB_PATH)",
                         "Chroma server through an Airflow connection id (AIRFLOW_CONN_<ID>), or a URL "
                         "http(s)://[login:password@]host:port/?tenant=&database=&token=&ca_bundle=&verify=&"
                         "auth_type= (docs/chroma-servers.md)")
    add_dsn_argument(mig)
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
    mig.add_argument("--index", default="hnsw",  # validated with the DAG params
                     help="vector index: hnsw (default, the collection's m and ef_construction), ivfflat (lists "
                          "from the row count), hnsw_halfvec (half-precision HNSW), hnsw_bit_rerank (binary-"
                          "quantised HNSW, re-ranked by the full vector); docs/search-indexes.md")
    mig.add_argument("--airflow", action="store_true",
                     help="run the chroma_to_pgvector DAG with dag.test() instead: a run in Airflow's metadata "
                          "database (the UI's history, its Asset events and lineage); about 9 s slower to start")
    mig.set_defaults(func=_cmd_migrate)
