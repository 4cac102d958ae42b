"""``make chaos``: SIGKILL ``vectorops migrate`` again and again at random points, rerun, check parity each time.

    python -m tests.faults.chaos --kills 20 --rows 100000

It starts its own embedded PostgreSQL and Airflow home in a temporary directory (nothing of ``make run`` is
touched), writes a Chroma store of ``--rows`` records, migrates it once, then plays ``--kills`` rounds of
:mod:`tests.faults.kill_harness`: change the source, kill the migration (the points are shuffled so that each
appears), check the live table and the ledger, rerun, check parity. One line per round, then a summary; exit 1
when any round failed. ``--keep`` keeps the directory (the logs of every run are in ``<dir>/logs``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _isolated_environment(home: Path) -> None:
    """The environment ``tests/conftest.py`` gives a test session: own server, own Airflow home, offline."""
    os.environ.update({"VECTOROPS_HOME": str(home), "VECTOROPS_DB_PORT": str(_free_port()),
                       "VECTOROPS_DB_PASSWORD": "chaos-password", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                       "ANONYMIZED_TELEMETRY": "False", "AIRFLOW_PORT": str(_free_port())})
    for name in ("VECTOROPS_DSN", "CHROMA_DB_PATH", "VECTOROPS_CHUNK_ROWS", "VECTOROPS_FETCH_BATCH",
                 "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "VECTOROPS_OWNER_TOKEN", "VECTOROPS_FAILPOINT"):
        os.environ.pop(name, None)


def schedule(kills: int, seed: int, points: list[str]) -> list[str]:
    """``kills`` points: every point once per pass, each pass shuffled.

    :param points: the points to draw from.
    """
    rng = random.Random(seed)
    order: list[str] = []
    while len(order) < kills:
        batch = list(points)
        rng.shuffle(batch)
        order += batch
    return order[:kills]


def summary(rounds: list, seconds: float) -> list[str]:
    """The closing lines: kills by point, reruns, parity, ledger and live-table findings."""
    by_point = Counter(r.point for r in rounds)
    ok = sum(r.ok for r in rounds)
    lines = [f"kills: {sum(r.killed for r in rounds)} of {len(rounds)} "
             f"({', '.join(f'{p} {n}' for p, n in sorted(by_point.items()))})",
             f"reruns succeeded first time: {sum(not any('rerun exited' in p for p in r.problems) for r in rounds)}"
             f" of {len(rounds)}; resumed the killed attempt: {sum(r.resumed for r in rounds)}",
             f"parity (rows = source - quarantined, 0 duplicates, sha256 equal, nothing left over): {ok} of "
             f"{len(rounds)}",
             f"ledger observations: {sum(r.watch.observations for r in rounds)}, ahead of the data: "
             f"{sum(len(r.watch.ahead) for r in rounds)}; live-table queries answered: "
             f"{sum(r.watch.live_answers for r in rounds)}, failed: {sum(len(r.watch.live_errors) for r in rounds)}",
             f"longest lock release after a kill: {max((r.release_s for r in rounds), default=0.0):.1f}s",
             f"{'PASSED' if ok == len(rounds) else 'FAILED'} in {seconds / 60:.1f} min"]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the chaos rounds; 0 when every round passed."""
    parser = argparse.ArgumentParser(prog="python -m tests.faults.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=8, help="chunks per migration (VECTOROPS_CHUNK_ROWS)")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--points", default=None, help="comma-separated subset of the kill points")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and its logs")
    args = parser.parse_args(argv)
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="vectorops-chaos-"))
    _isolated_environment(home)
    from tests.faults import kill_harness
    from tests.faults.kill_source import Source
    from vectorops.airflow.env import airflow_environment, migrate_metadata
    from vectorops.config import load_settings
    from vectorops.db import runtime
    from vectorops.db.bootstrap import bootstrap

    points = args.points.split(",") if args.points else list(kill_harness.POINTS)
    unknown = set(points) - set(kill_harness.POINTS)
    if unknown:
        parser.error(f"unknown point(s) {sorted(unknown)}; known: {', '.join(kill_harness.POINTS)}")
    settings = load_settings()
    env = airflow_environment(settings)
    os.environ.update(env)
    try:
        dsn = bootstrap(settings)
        migrate_metadata(env)
        print(f"chaos: {args.kills} kills on {args.rows} rows x {args.dims} dims, seed {args.seed}, home {home}",
              flush=True)
        source = Source.build(home / "chroma", "chaos", args.rows, args.dims, seed=args.seed)
        logs = home / "logs"
        logs.mkdir()
        work = kill_harness.Workload(source=source, schema="chaos", dsn=dsn, env=dict(os.environ), logs=logs,
                                     chunk_rows=max(1, -(-args.rows // args.chunks)))
        rounds = kill_harness.play(work, schedule(args.kills, args.seed, points), args.seed,
                                   report=lambda line: print(line, flush=True))
        for line in summary(rounds, time.monotonic() - started):
            print(line)
        return 0 if all(r.ok for r in rounds) else 1
    finally:
        runtime.stop(settings)
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
