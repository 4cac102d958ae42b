"""``vectorops sync``: bring migrated tables up to date with what was written to Chroma since their read point."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from vectorops.cli import progress
from vectorops.cli.log_file import announce, quiet
from vectorops.cli.source_args import add_source_arguments, seconds, source_params
from vectorops.config import load_settings


def _round(dsn: str, request: Any) -> int:
    from vectorops.sync.report import outcome_line
    from vectorops.sync.run import SyncFailure, sync_all

    with quiet():
        outcomes = sync_all(dsn, request)
    for outcome in outcomes:
        print(outcome_line(outcome), flush=True)
    behind = [o for o in outcomes if isinstance(o, SyncFailure) or not o.in_parity]
    return 1 if behind else 0


def _cmd_sync(args: argparse.Namespace) -> int:
    from vectorops.db.bootstrap import bootstrap
    from vectorops.sync.request import sync_request

    watch = None if args.watch is None else seconds(args.watch)
    settings = load_settings()
    request = sync_request(source_params(args, args.collection or []), settings)
    with quiet():
        dsn = bootstrap(settings)
    terminal = progress.terminal()
    try:
        bars: AbstractContextManager[Any] = progress.SyncProgress(dsn, terminal) if terminal else nullcontext()
        with bars:
            while True:
                status = _round(dsn, request)
                if watch is None:
                    return status
                time.sleep(watch)
    except KeyboardInterrupt:
        announce()  # the log's path first: what to do next is the last line
        print("vectorops sync: interrupted; every batch committed before it stands with its read point, the one in "
              "progress was rolled back: run the same command again to continue", file=sys.stderr, flush=True)
        return 130
    finally:
        if terminal:
            terminal.close()


def add_commands(sub: Any) -> None:
    """Add ``sync`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    cmd = sub.add_parser("sync", help="apply what was written to Chroma since the migration (exit 0 when every "
                                      "table equals its source as of its new read point)")
    add_source_arguments(cmd)
    cmd.add_argument("--collection", action="append", help="collection to sync (repeatable; default: every "
                                                           "collection migrated from this source)")
    cmd.add_argument("--watch", metavar="SECONDS", help="sync again every SECONDS until interrupted")
    cmd.set_defaults(func=_cmd_sync)
