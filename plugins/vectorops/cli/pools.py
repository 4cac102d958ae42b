"""``vectorops pools``: the ``vectorops_heavy`` pool in an Airflow of your own (the compose file's ``airflow-init``
runs it), created or given ``VECTOROPS_HEAVY_POOL_SLOTS`` slots again."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any


def add_commands(sub: Any) -> None:
    """Add ``pools`` to the ``vectorops`` parser's subcommands."""
    pools = sub.add_parser("pools", help="create the vectorops_heavy Airflow pool in this Airflow's metadata "
                                         "database, or give it VECTOROPS_HEAVY_POOL_SLOTS slots again (a deployment "
                                         "of your own: docs/scaling-out.md)")
    pools.set_defaults(func=_cmd_pools, log_to_file=False)


def _cmd_pools(args: argparse.Namespace) -> int:
    """``vectorops pools``: one line on success, one line naming the setting on failure."""
    from vectorops.airflow.env import ensure_heavy_pool
    from vectorops.airflow.pools import HEAVY_POOL, heavy_pool_slots

    try:
        ensure_heavy_pool({})  # the environment as it is: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN names the database
    except FileNotFoundError:
        print("vectorops: error: no `airflow` command beside this Python or on PATH: run `vectorops pools` where "
              "Airflow is installed", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # Airflow's own traceback would be tens of lines: the line saying why, and the setting
        print(f"vectorops: error: {_airflow_failure(exc)}; check AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (or "
              "AIRFLOW_HOME's airflow.cfg): it must name this Airflow's metadata database, migrated with "
              "`airflow db migrate`", file=sys.stderr)
        return 1
    print(f"Airflow pool {HEAVY_POOL}: {heavy_pool_slots()} slot(s)")
    return 0


# the line of a failed `airflow` command's output that says why: an exception's, or an error log line's
_AIRFLOW_ERROR = re.compile(r"^[\w.]+(?:Error|Exception)\b|\[error\s*\]")


def _airflow_failure(exc: RuntimeError) -> str:
    """What :func:`vectorops.airflow.env._airflow`'s error says went wrong, on one line, URL passwords hidden (not
    with :mod:`vectorops.redaction`: it imports Airflow, which fails on the same settings)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if _AIRFLOW_ERROR.search(line)]
    if not errors:
        return lines[0] if lines else type(exc).__name__
    reason = re.sub(r"^\S+ \[error\s*\]\s*|\s+\[[\w.]+\]\s+loc=\S+$", "", errors[-1])  # structlog's time, logger
    reason = re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", reason)
    return f"{lines[0].rstrip(':')} ({reason})"
