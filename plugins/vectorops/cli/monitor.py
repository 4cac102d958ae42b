"""The ``vectorops monitor`` command: probe search latency and recall of live tables, alert on breaches."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from vectorops.cli.log_file import quiet
from vectorops.cli.source_args import add_dsn_argument
from vectorops.config import load_settings
from vectorops.migration.summary import cli_run_id


def _cmd_monitor(args: argparse.Namespace) -> int:
    from vectorops import monitor

    settings = load_settings()
    if args.ef_search is not None:
        settings = dataclasses.replace(settings, monitor=dataclasses.replace(settings.monitor,
                                                                             ef_search=args.ef_search))
    with quiet():
        names = args.collection or monitor.live_collections(settings)
    if not names:
        print("no live tables to monitor")
        return 0
    run_id = cli_run_id()
    measurements = []
    for name in names:
        with quiet():
            measurement = monitor.monitor_table(settings, name, run_id)
            monitor.alert_breaches(measurement, dag_id=None, run_id=run_id)
        measurements.append(measurement)
    print("\n".join(monitor.format_measurements(measurements)))
    breached = [m for m in measurements if m.breaches]
    for m in breached:
        print(f"BREACH {m.describe()}", file=sys.stderr)
    probed = [m for m in measurements if not m.empty]
    empty = len(measurements) - len(probed)
    unjudged = sum(1 for m in probed if m.during_index_build)
    print(f"{len(probed) - len(breached) - unjudged} of {len(probed)} table(s) within thresholds "
          f"(p95 <= {settings.monitor.max_p95_ms} ms, recall@10 >= {settings.monitor.min_recall})"
          + (f", {unjudged} measured during an index build and not judged" if unjudged else "")
          + (f", {empty} empty collection(s) not probed" if empty else "")
          + f"; run {run_id} in vectorops.search_metrics")
    return 1 if breached else 0


def add_commands(sub: Any) -> None:
    """Add ``monitor`` to the ``vectorops`` parser.

    :param sub: the parser's subparsers action.
    """
    mon = sub.add_parser("monitor", help="probe search latency and recall of live tables (exit 1 on a breach)")
    mon.add_argument("--collection", action="append", help="collection to probe (repeatable; default: all live)")
    mon.add_argument("--ef-search", type=int, default=None, metavar="N",
                     help="hnsw.ef_search to probe hnsw and hnsw_halfvec indexes at, 1 to 1000 (default: "
                          "VECTOROPS_HNSW_EF_SEARCH, else the collection's own from its migration); ivfflat and "
                          "hnsw_bit_rerank indexes are probed at their default probes / re-rank depth")
    add_dsn_argument(mon)
    mon.set_defaults(func=_cmd_monitor)
