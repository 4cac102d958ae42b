"""``vectorops cutover``: the final sync and full parity of one collection, after which its syncs stop."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vectorops.cli.log_file import quiet
from vectorops.cli.source_args import add_source_arguments, source_params
from vectorops.config import load_settings


def _cmd_cutover(args: argparse.Namespace) -> int:
    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.connect import connect
    from vectorops.errors import CollectionBusy, SourceChanged, ValidationFailed
    from vectorops.sync.cutover import cutover
    from vectorops.sync.report import cutover_line
    from vectorops.sync.request import sync_request
    from vectorops.sync.target import select_targets

    settings = load_settings()
    request = sync_request(source_params(args, [args.collection]), settings)
    with quiet():
        dsn = bootstrap(settings)
    with connect(dsn, autocommit=True) as conn:
        target = select_targets(conn, request.source.uri, request.collections, request.schema)[0]
        try:
            with quiet():
                result = cutover(conn, request.source, target, request.batch_size)
        except (SourceChanged, ValidationFailed, CollectionBusy) as exc:
            print(f"{target.key}: NOT CUT OVER: {exc}", file=sys.stderr)
            return 1
    print(f"{cutover_line(result)}. Writers may now use PostgreSQL (a vectorops.store in dual mode can switch to "
          "postgres).")
    return 0


def add_commands(sub: Any) -> None:
    """Add ``cutover`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    cmd = sub.add_parser("cutover", help="final sync, full parity at its read point, then stop syncing one "
                                         "collection (pause its writers for the window it reports)")
    add_source_arguments(cmd)
    cmd.add_argument("--collection", required=True, help="the collection to cut over")
    cmd.set_defaults(func=_cmd_cutover)
