"""The Chroma source arguments ``vectorops sync`` and ``vectorops cutover`` share, and the params they become."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--chroma-path | --chroma-host | --chroma-conn``, ``--chroma-port``, ``--dsn``, ``--schema`` and
    ``--batch-size`` to ``parser``.

    :param parser: a subcommand's parser.
    """
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--chroma-path", help="the Chroma directory the collections were migrated from "
                                           "(default: CHROMA_DB_PATH)")
    src.add_argument("--chroma-host", help="Chroma HTTP server host")
    src.add_argument("--chroma-conn", metavar="ID_OR_URL", help="Chroma server through an Airflow connection id, "
                                                                "or a URL (as for migrate)")
    parser.add_argument("--chroma-port", type=int, default=8000, help="Chroma HTTP server port (default 8000)")
    parser.add_argument("--dsn", help="target PostgreSQL (default: VECTOROPS_DSN or the embedded server)")
    parser.add_argument("--schema", help="only tables in this schema")
    parser.add_argument("--batch-size", type=int, default=5000, help="records per applied batch (default 5000)")


def source_params(args: argparse.Namespace, collections: list[str]) -> dict[str, Any]:
    """The sync params (:data:`vectorops.sync.request.PARAMS`) of parsed arguments.

    :param args: arguments parsed by a parser :func:`add_source_arguments` set up.
    :param collections: the collections asked for.
    """
    from vectorops.cli.migrate import chroma_conn_id

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
    """Make ``--dsn`` the database of this run (``VECTOROPS_DSN``), once it reads as a connection string.

    :param args: arguments parsed by a parser :func:`add_source_arguments` set up.
    :raises ValueError: naming ``--dsn`` when it is empty or not a libpq connection string or URL.
    """
    if args.dsn is None:
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
