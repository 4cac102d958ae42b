"""``vectorops db``: the embedded server (up, down, dsn) and role passwords (rotate-password)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vectorops.cli.source_args import add_dsn_argument, printable_dsn
from vectorops.config import load_settings


def _cmd_db(args: argparse.Namespace) -> int:
    from vectorops.db import runtime
    from vectorops.db.bootstrap import bootstrap

    settings = load_settings()
    if (args.role is not None) != (args.action == "rotate-password"):
        raise ValueError("vectorops db: ROLE goes with rotate-password only (vectorops db rotate-password ROLE)")
    if args.dsn is not None and args.action == "down":
        raise ValueError("vectorops db down: --dsn does not go with down, which stops the embedded server only")
    if args.password_file and args.action != "rotate-password":
        raise ValueError("vectorops db: --password-file goes with rotate-password only")
    if args.action == "rotate-password":
        from vectorops.db import password_rotation

        role = password_rotation.check_role(args.role)
        password = password_rotation.read_new_password(role, args.password_file)
        for line in password_rotation.rotate_password(runtime.start(settings), settings.home, role, password):
            print(f"vectorops: {line}", file=sys.stderr)
        print(f"the password of {role} was changed (sent as a SCRAM-SHA-256 verifier)")
    elif args.action == "up":
        print(printable_dsn(bootstrap(settings)))
    elif args.action == "down":
        stopped = runtime.stop(settings)
        print("stopped" if stopped else "not running (nothing to stop)")
    else:
        print(printable_dsn(runtime.dsn(settings)))
    return 0


def add_commands(sub: Any) -> None:
    """Add ``db`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    dbp = sub.add_parser("db", help="the embedded PostgreSQL server")
    dbp.add_argument("action", choices=["up", "down", "dsn", "rotate-password"],
                     help="up: start or reuse it and print its DSN; down: stop it; dsn: print the DSN; "
                          "rotate-password ROLE: give a vectorops role a new password (asked without echo, or read "
                          "from --password-file or a pipe), sent only as a SCRAM-SHA-256 verifier")
    dbp.add_argument("role", nargs="?", help="rotate-password: the role (vectorops_etl, vectorops_maint, "
                                             "vectorops_monitor, vectorops_reader or vectorops_restore)")
    dbp.add_argument("--password-file", help="rotate-password: read the new password from this file")
    add_dsn_argument(dbp, "up, dsn, rotate-password: use this database instead of the embedded server (default: "
                          "VECTOROPS_DSN); up creates vectorops' extension and schema in it")
    dbp.set_defaults(func=_cmd_db)
