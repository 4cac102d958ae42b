"""``vectorops maintain``: the maintenance of ``pgvector_maintenance``, from the terminal."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vectorops.cli.log_file import quiet
from vectorops.cli.source_args import add_dsn_argument
from vectorops.migration.summary import cli_run_id


def _print_plan(plans: list[Any]) -> None:
    header = f"{'table':40} {'action':15} {'index':32} {'mwm MB':>7}  reason"
    print(header)
    print("-" * len(header))
    for table_plan in plans:
        for action in table_plan.actions:
            print(f"{table_plan.state.qualified[:40]:40} {action.kind:15} {(action.index or '-')[:32]:32} "
                  f"{action.maintenance_work_mem_mb or '-':>7}  {action.reason}")
        if not table_plan.actions:
            print(f"{table_plan.state.qualified[:40]:40} {'-':15} {'-':32} {'-':>7}  nothing to do")
        for note in table_plan.notes:
            print(f"{'':40} note: {note}")


def _cmd_maintain(args: argparse.Namespace) -> int:
    from vectorops.config import load_settings
    from vectorops.db.bootstrap import bootstrap
    from vectorops.maintenance import executor

    settings = load_settings()
    with quiet():
        bootstrap(settings)
    with executor.connect(settings) as conn:
        with quiet():
            plans = executor.plan(conn, settings, args.collection)
        print(f"maintenance plan (lock_timeout {settings.maintenance.lock_timeout_ms} ms, statement_timeout "
              f"{settings.maintenance.statement_timeout_s} s):")
        _print_plan(plans)
        if args.dry_run:
            print("DRY RUN: nothing was changed")
            print(json.dumps({"plan": [
                {"table": p.state.qualified, "actions": [a.__dict__ for a in p.actions], "notes": p.notes}
                for p in plans]}, default=str, sort_keys=True))
            return 0
        run_id = cli_run_id()
        with quiet():
            results = [r for p in plans
                       for r in executor.run_plan(conn, p, run_id, settings.maintenance.concurrent_lock_timeout_s)]
    for r in results:
        print(f"{'ok  ' if r.status == 'done' else 'FAIL'} {r.action.kind:15} {r.action.schema}.{r.action.table} "
              f"{r.seconds:7.1f}s{'  ' + r.error if r.error else ''}")
    failed = sum(r.status == "failed" for r in results)
    print(f"{len(results) - failed} of {len(results)} action(s) done; see vectorops.maintenance_log (run {run_id})")
    return 1 if failed else 0


def add_commands(sub: Any) -> None:
    """Add ``maintain`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    parser = sub.add_parser("maintain", help="rebuild invalid or stale indexes, VACUUM and ANALYZE the live tables "
                                             "(exit 1 when an action fails)")
    parser.add_argument("--collection", action="append", help="collection to maintain (repeatable; default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    add_dsn_argument(parser)
    parser.set_defaults(func=_cmd_maintain)
