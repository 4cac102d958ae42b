"""The Chroma source arguments ``vectorops sync`` and ``vectorops cutover`` share, and the params they become."""

from __future__ import annotations

import argparse
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

    return {
        # the DAG's param takes an absolute path; a relative one means the caller's working directory
        "chroma_path": str(Path(args.chroma_path).expanduser().absolute()) if args.chroma_path else None,
        "chroma_host": args.chroma_host, "chroma_port": args.chroma_port,
        "chroma_conn": chroma_conn_id(args.chroma_conn), "collections": collections,
        "target_schema": args.schema, "batch_size": args.batch_size,
    }
