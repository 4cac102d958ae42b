"""``vectorops sync``: bring migrated tables up to date with what was written to Chroma since their read point."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from vectorops.config import load_settings


def _params(args: argparse.Namespace) -> dict[str, Any]:
    from vectorops.cli.migrate import chroma_conn_id

    return {
        "chroma_path": str(Path(args.chroma_path).expanduser().absolute()) if args.chroma_path else None,
        "chroma_host": args.chroma_host, "chroma_port": args.chroma_port,
        "chroma_conn": chroma_conn_id(args.chroma_conn), "collections": args.collection or [],
        "target_schema": args.schema, "batch_size": args.batch_size,
    }


def _line(outcome: Any) -> str:
    from vectorops.sync.run import SyncFailure

    if isinstance(outcome, SyncFailure):
        return f"{outcome.collection}: NOT SYNCED: {outcome.error}"
    parity = "in parity" if outcome.in_parity else "NOT in parity"
    return (f"{outcome.collection} → {outcome.table}: added {outcome.added}, updated {outcome.updated}, deleted "
            f"{outcome.deleted}, quarantined {outcome.quarantined}; read point {outcome.from_point} → "
            f"{outcome.read_point} ({outcome.source_count} records); lag {outcome.lag_records} record(s), "
            f"{outcome.lag_seconds:.1f}s; {parity}; {outcome.seconds:.2f}s")


def _round(dsn: str, request: Any) -> int:
    from vectorops.sync.run import SyncFailure, sync_all

    outcomes = sync_all(dsn, request)
    for outcome in outcomes:
        print(_line(outcome), flush=True)
    behind = [o for o in outcomes if isinstance(o, SyncFailure) or not o.in_parity]
    return 1 if behind else 0


def _cmd_sync(args: argparse.Namespace) -> int:
    from vectorops.db.bootstrap import bootstrap
    from vectorops.sync.request import sync_request

    if args.dsn:
        os.environ["VECTOROPS_DSN"] = args.dsn
    if args.watch is not None and args.watch <= 0:
        raise ValueError(f"--watch {args.watch}: give the seconds between syncs, more than 0")
    settings = load_settings()
    request = sync_request(_params(args), settings)
    dsn = bootstrap(settings)
    while True:
        status = _round(dsn, request)
        if args.watch is None:
            return status
        time.sleep(args.watch)


def add_commands(sub: Any) -> None:
    """Add ``sync`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    cmd = sub.add_parser("sync", help="apply what was written to Chroma since the migration (exit 0 when every "
                                      "table equals its source as of its new read point)")
    src = cmd.add_mutually_exclusive_group()
    src.add_argument("--chroma-path", help="the Chroma directory the collections were migrated from "
                                           "(default: CHROMA_DB_PATH)")
    src.add_argument("--chroma-host", help="Chroma HTTP server host")
    src.add_argument("--chroma-conn", metavar="ID_OR_URL", help="Chroma server through an Airflow connection id, "
                                                                "or a URL (as for migrate)")
    cmd.add_argument("--chroma-port", type=int, default=8000, help="Chroma HTTP server port (default 8000)")
    cmd.add_argument("--dsn", help="target PostgreSQL (default: VECTOROPS_DSN or the embedded server)")
    cmd.add_argument("--collection", action="append", help="collection to sync (repeatable; default: every "
                                                           "collection migrated from this source)")
    cmd.add_argument("--schema", help="only tables in this schema")
    cmd.add_argument("--batch-size", type=int, default=5000, help="records per applied batch (default 5000)")
    cmd.add_argument("--watch", type=float, metavar="SECONDS", help="sync again every SECONDS until interrupted")
    cmd.set_defaults(func=_cmd_sync)
