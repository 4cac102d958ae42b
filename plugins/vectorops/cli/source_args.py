"""The arguments commands share, defined once: ``--dsn`` (every command that touches the database), the Chroma
source (``migrate``, ``sync``, ``cutover``) and the params they become."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from vectorops.chroma.connection import PROCESS_CONN

#: the process-local connection a ``--chroma-conn`` URL becomes
CLI_CHROMA_CONN = PROCESS_CONN  # never recorded in the registry: it exists in this process only


def chroma_conn_id(value: str | None) -> str | None:
    """``--chroma-conn``: a connection id as it is, or a URL made into this process's connection
    :data:`CLI_CHROMA_CONN` (``AIRFLOW_CONN_VECTOROPS_CLI_CHROMA``, Airflow's JSON form), so its secret never enters
    the params, XCom or logs: only the id does.

    :raises ValueError: naming what is wrong with the URL.
    """
    if not value or "://" not in value:
        return value
    from vectorops.chroma.connection import connection_from_url

    os.environ[f"AIRFLOW_CONN_{CLI_CHROMA_CONN.upper()}"] = connection_from_url(value)
    return CLI_CHROMA_CONN


#: what ``--dsn`` means where it names vectorops' own database
DSN_HELP = "the vectorops database, a libpq string or URL (default: VECTOROPS_DSN, else the embedded server)"


def add_dsn_argument(parser: argparse.ArgumentParser, help_text: str = DSN_HELP, *,
                     selects_database: bool = True) -> None:
    """Add ``--dsn`` to ``parser``.

    :param parser: a subcommand's parser.
    :param help_text: its help, when the database it names is not vectorops' own (``restore``'s target).
    :param selects_database: the command's database is ``--dsn``: ``main`` makes it ``VECTOROPS_DSN`` (checked
        by :func:`use_dsn`) before the command runs; ``False`` leaves the value to the command alone.
    """
    parser.add_argument("--dsn", help=help_text)
    parser.set_defaults(dsn_selects_database=selects_database)


def add_chroma_arguments(parser: argparse.ArgumentParser, path_help: str, conn_help: str) -> None:
    """Add ``--chroma-path | --chroma-host | --chroma-conn`` and ``--chroma-port`` to ``parser``.

    :param parser: a subcommand's parser.
    :param path_help: what ``--chroma-path`` is to this command.
    :param conn_help: what ``--chroma-conn`` takes.
    """
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--chroma-path", help=path_help)
    src.add_argument("--chroma-host", help="Chroma HTTP server host")
    src.add_argument("--chroma-conn", metavar="ID_OR_URL", help=conn_help)
    parser.add_argument("--chroma-port", type=int, default=8000, help="Chroma HTTP server port (default 8000)")


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the Chroma source (:func:`add_chroma_arguments`), ``--dsn``, ``--schema`` and ``--batch-size`` to
    ``parser`` (``sync`` and ``cutover``).

    :param parser: a subcommand's parser.
    """
    add_chroma_arguments(parser, "the Chroma directory the collections were migrated from (default: CHROMA_DB_PATH)",
                         "Chroma server through an Airflow connection id, or a URL (as for migrate)")
    add_dsn_argument(parser)
    parser.add_argument("--schema", help="only tables in this schema")
    parser.add_argument("--batch-size", type=int, default=5000, help="records per applied batch (default 5000)")


def source_params(args: argparse.Namespace, collections: list[str]) -> dict[str, Any]:
    """The sync params (``vectorops.sync.request.PARAMS``) of parsed arguments.

    :param args: arguments parsed by a parser :func:`add_source_arguments` set up.
    :param collections: the collections asked for.
    :raises ValueError: naming ``--chroma-path`` when it is no directory, or ``--schema`` when it is blank.
    """
    if args.chroma_path and not Path(args.chroma_path).expanduser().is_dir():  # said before any server starts
        raise ValueError(f"--chroma-path {args.chroma_path!r} is not a directory: give the Chroma store the "
                         "collections were migrated from")
    if args.schema is not None and not args.schema.strip():
        raise ValueError(f"--schema {args.schema!r}: give a schema name, or leave --schema out for every schema")
    return {
        # the DAG's param takes an absolute path; a relative one means the caller's working directory
        "chroma_path": str(Path(args.chroma_path).expanduser().absolute()) if args.chroma_path else None,
        "chroma_host": args.chroma_host, "chroma_port": args.chroma_port,
        "chroma_conn": chroma_conn_id(args.chroma_conn), "collections": collections,
        "target_schema": args.schema, "batch_size": args.batch_size,
    }


def use_dsn(args: argparse.Namespace) -> None:
    """Make ``--dsn`` the database of this run (``VECTOROPS_DSN``), once it reads as a connection string; without
    ``--dsn`` or ``VECTOROPS_DSN``, the ``vectorops_postgres`` connection when it is defined. Nothing when the command
    has no ``--dsn`` or its ``--dsn`` names another database (:func:`add_dsn_argument`).

    :param args: the parsed arguments.
    :raises ValueError: naming ``--dsn`` when it is empty or not a libpq connection string or URL.
    """
    if not getattr(args, "dsn_selects_database", False):
        return
    if getattr(args, "dsn", None) is None:
        _use_target_connection()
        return
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        given = conninfo_to_dict(args.dsn) if args.dsn.strip() else {}
    except ProgrammingError as exc:
        raise ValueError(f"--dsn is not a PostgreSQL connection string ({str(exc).strip()}); give "
                         "'host=... dbname=...' or 'postgresql://user@host/dbname'") from None
    if not given:
        raise ValueError("--dsn is empty; give 'host=... dbname=...' or 'postgresql://user@host/dbname', or leave "
                         "it out for VECTOROPS_DSN or the embedded server")
    os.environ["VECTOROPS_DSN"] = args.dsn


def _use_target_connection() -> None:
    """Without ``--dsn`` and ``VECTOROPS_DSN``, the command's database is the ``vectorops_postgres`` connection
    (``AIRFLOW_CONN_VECTOROPS_POSTGRES``) when it is defined: the one the tasks of the DAG it runs write to.

    :raises SettingError: naming the variable when the connection is not a usable PostgreSQL connection.
    """
    if os.environ.get("VECTOROPS_DSN"):
        return
    from vectorops.airflow.connections import TARGET_CONN_ID
    from vectorops.db.dsn import env_connection_dsn

    target = env_connection_dsn(TARGET_CONN_ID, iam=True)
    if target is not None:
        os.environ["VECTOROPS_DSN"] = target
        _FROM_CONNECTION.add(target)


#: DSNs taken from the vectorops_postgres connection: their password is the connection's secret, never printed
_FROM_CONNECTION: set[str] = set()


def printable_dsn(dsn: str) -> str:
    """``dsn`` as a command prints it: as is, unless it came from the ``vectorops_postgres`` connection, whose
    password then shows as ``***`` (a DSN given by ``--dsn`` or ``VECTOROPS_DSN`` is the operator's own).

    :param dsn: the DSN the command used.
    """
    if dsn not in _FROM_CONNECTION:
        return dsn
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(dsn, password="***") if conninfo_to_dict(dsn).get("password") else dsn


def seconds(text: str) -> float:
    """``--watch``'s value: a finite number of seconds above 0.

    :param text: the argument as given.
    :raises ValueError: naming ``--watch`` and the value.
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"--watch {text!r}: give the seconds between syncs, a number more than 0")
    return value
