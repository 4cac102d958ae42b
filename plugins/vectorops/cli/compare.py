"""The ``vectorops compare`` command: Chroma against pgvector on generated or migrated data, scored and graded."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vectorops.cli.log_file import quiet
from vectorops.cli.source_args import add_dsn_argument
from vectorops.config import load_settings


def _bounded(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from exc
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{raw} must be from {low:g} to {high:g}")
        return value

    return parse


def _client_counts(raw: str) -> tuple[int, ...]:
    """``1,4,16`` → ``(1, 4, 16)``; ``none`` → ``()`` (no concurrency phase)."""
    if raw.strip().lower() in ("none", "off", "0", ""):
        return ()
    try:
        counts = tuple(int(part) for part in raw.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a list of client counts such as 1,4,16") from exc
    if not all(1 <= n <= 64 for n in counts) or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(f"{raw}: each client count must be from 1 to 64, each once")
    return counts


def _dsn(args: argparse.Namespace) -> str:
    from vectorops.store.settings import libpq_url

    if args.dsn:
        return libpq_url(args.dsn)
    if os.environ.get("DATABASE_URL"):
        return libpq_url(os.environ["DATABASE_URL"])
    from vectorops.db.bootstrap import bootstrap

    return bootstrap(load_settings())


def _schema_of(dsn: str, collection: str) -> str:
    """The schema the registry holds ``collection`` in (by key, else by name).

    :raises ValueError: when no schema or several hold it (then ``--schema`` says which).
    """
    from vectorops.db.connect import connect
    from vectorops.db.sql_files import sql_text

    with connect(dsn, autocommit=True) as conn:
        schemas = [r[0] for r in conn.execute(sql_text("compare/select_collection_schemas"), {"c": collection})]
    if len(schemas) != 1:
        raise ValueError(f"--collection {collection!r} is " + (
            f"in schemas {', '.join(schemas)}: say which with --schema" if schemas else "not in the registry"))
    return str(schemas[0])


def _cmd_compare(args: argparse.Namespace) -> int:
    from vectorops.compare import dataset, run_comparison, write_outputs
    from vectorops.compare.measure import Options
    from vectorops.compare.report import terminal_table
    from vectorops.compare.server_phase import LoadOptions

    dsn = _dsn(args)
    options = Options(batch=args.batch, reads=args.reads, clients=args.clients, seconds=args.seconds, seed=args.seed)
    if args.collection:
        from vectorops.store.postgres import PostgresStore

        source = PostgresStore(dsn, table_schema=args.schema or _schema_of(dsn, args.collection),
                               service="vectorops-compare")
        try:
            data = dataset.migrated(source, args.collection, args.rows, args.queries, args.seed)
        finally:
            source.close()
    else:
        data = dataset.generated(args.rows, args.dims, args.queries, args.space, args.seed)
    load = LoadOptions(args.concurrency, args.concurrency_seconds) if args.concurrency else None
    with quiet():
        report = run_comparison(dsn, data, options, load=load)
    print(terminal_table(report))
    html = Path(args.html) if args.html else (
        load_settings().home / "compare" / f"compare-{time.strftime('%Y%m%dT%H%M%S')}.html")
    write_outputs(report, html, Path(args.json) if args.json else None)
    print(f"HTML report: {html}")
    return 0


def add_commands(sub: Any) -> None:
    """Add ``compare`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    cmp = sub.add_parser("compare", help="compare Chroma and pgvector on the same data: speed, recall, reliability, "
                                         "and throughput under 1, 4 and 16 clients against a Chroma server; "
                                         "a graded score, a terminal table and an HTML report")
    cmp.add_argument("--rows", type=_bounded(int, 10, 1_000_000), default=20_000,
                     help="records (default 20000; with --collection, at most this many of it)")
    cmp.add_argument("--dims", type=_bounded(int, 2, 4000), default=384, help="vector dimensions (default 384)")
    cmp.add_argument("--space", choices=["cosine", "l2", "ip"], default="cosine",
                     help="distance space of the generated data (default cosine)")
    cmp.add_argument("--queries", type=_bounded(int, 1, 10_000), default=200,
                     help="queries timed for latency, recall and filtered throughput (default 200)")
    cmp.add_argument("--collection", help="compare on this migrated collection's records instead of generated ones")
    cmp.add_argument("--schema", help="the schema of --collection (default: the one the registry holds it in)")
    cmp.add_argument("--clients", type=_bounded(int, 1, 16), default=4,
                     help="concurrent clients of the reliability phase (default 4)")
    cmp.add_argument("--seconds", type=_bounded(float, 0.5, 60), default=10.0,
                     help="length of the reliability phase (default 10)")
    cmp.add_argument("--concurrency", type=_client_counts, default=(1, 4, 16), metavar="N,N,...",
                     help="client counts of the concurrency phase: QPS and p95 at recall@10 >= 0.95, pgvector "
                          "against a `chroma run` server of its own (default 1,4,16; none: skip the phase)")
    cmp.add_argument("--concurrency-seconds", type=_bounded(float, 0.2, 120), default=3.0,
                     help="the most one load of the concurrency phase runs, per engine and client count (default 3)")
    cmp.add_argument("--batch", type=_bounded(int, 1, 5000), default=500, help="records per write (default 500)")
    cmp.add_argument("--reads", type=_bounded(int, 1, 10_000), default=50,
                     help="reads of 100 ids each (default 50)")
    cmp.add_argument("--seed", type=_bounded(int, 0, 2 ** 31), default=0, help="seed of data and sampling")
    add_dsn_argument(cmp, "the PostgreSQL to measure (default: DATABASE_URL, else vectorops' own database)",
                     selects_database=False)
    cmp.add_argument("--html", help="where to write the HTML report (default VECTOROPS_HOME/compare/...)")
    cmp.add_argument("--json", help="also write the figures as JSON here")
    cmp.set_defaults(func=_cmd_compare)
