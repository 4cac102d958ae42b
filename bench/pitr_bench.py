"""What point-in-time recovery costs and gives (issue 24), on the benchmark's own server (``isolation``).

* **Migration with the WAL archive on and off**: ``vectorops migrate`` of the 200,000 × 384 embedding-shaped store,
  alternating ``VECTOROPS_WAL_ARCHIVE=off`` (``wal_level=minimal``) and ``on`` (``replica``, ``basic_archive``), the
  server restarted in that mode and its archive emptied before each run. *Durable* is when the migrated table can
  be recovered: the promotion with the archive off (a crash keeps it, nothing else can bring it back); with it on,
  the promotion and the archiving of every WAL segment written until then (``archive_now`` after the command).
* **RPO under a steady write load**: a writer commits one row every 100 ms for ``--rpo-seconds``; every 0.5 s the
  sampler takes the newest archived segment from ``pg_stat_archiver`` and the newest commit whose WAL lies inside
  it: the RPO at that moment is how long ago that commit was (what a lost server would lose).
* **Off-site copy** (after the restore part, on its migrated table): a full base backup, the whole repository copied
  to a fresh ``file://`` off-site repository, and a recovery to a noted time from the local repository (the baseline)
  and from the off-site copy alone (fetched, verified, combined, replayed), rows compared.
* **Restore to a point in time**: first from a base backup taken before the migration, to a time after it (the
  recovery replays the whole migration's WAL from the archive); then, on the migrated table, a full base backup,
  1,000 rows rewritten, an incremental one, more writes, the time noted, more writes, and ``recover_to_time``
  (``pg_combinebackup`` of the two, seconds of WAL replayed) timed and its rows compared with the ones noted.

    .venv/bin/python bench/pitr_bench.py [--rows 200000] [--runs 2] [--rpo-seconds 180]

Prints one JSON document and writes it to ``bench/.cache/pitr_bench-<rows>.json``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import isolation

isolation.isolate()

SCHEMA = "pipeline"  # pipeline_bench's: its _vectorops migrates into it
WRITE_EVERY_S = 0.1
SAMPLE_EVERY_S = 0.5


def _say(message: str) -> None:
    print(f"[pitr {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _restart(archive: bool) -> Any:
    """Stop the benchmark's server, empty its PITR repository, start it with the archive ``on`` or ``off``."""
    from vectorops.config import load_settings
    from vectorops.db import runtime
    from vectorops.db.bootstrap import bootstrap

    os.environ["VECTOROPS_WAL_ARCHIVE"] = "on" if archive else "off"
    settings = load_settings()
    runtime.stop(settings)
    if settings.pitr.directory.exists():
        shutil.rmtree(settings.pitr.directory)
    bootstrap(settings)
    return settings


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) if directory.exists() else 0


def _migration(store: Path, archive: bool) -> dict[str, Any]:
    import pipeline_bench
    import psycopg
    import workloads

    from vectorops.backup.pitr.archive_status import archive_now
    from vectorops.db import runtime

    settings = _restart(archive)
    workloads.drop_schema(runtime.dsn(settings), SCHEMA)
    workloads.checkpoint(settings)
    started = time.perf_counter()
    result = pipeline_bench._vectorops(store, None)
    archived_s = 0.0
    if archive:
        clock = time.perf_counter()
        with psycopg.connect(runtime.dsn(settings, "postgres"), autocommit=True) as conn:
            archive_now(conn, timeout_s=900)
        archived_s = time.perf_counter() - clock
    result.update(archive="on" if archive else "off", archived_s=round(archived_s, 3),
                  durable_s=round(time.perf_counter() - started, 3),
                  archive_mb=round(_size(settings.pitr.wal_dir) / 1e6, 1))
    return result


def _rpo(seconds: float) -> dict[str, Any]:
    """Commit a row every 100 ms for ``seconds``; sample the RPO every 0.5 s (see the module's docstring)."""
    import psycopg

    from vectorops.backup.pitr.archive_status import archive_status
    from vectorops.db import runtime

    settings = _restart(True)
    dsn = runtime.dsn(settings, "postgres")
    commits: list[tuple[float, int]] = []  # (time, end LSN of the commit as a number)
    stop = threading.Event()

    def write() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS rpo_probe (n bigserial PRIMARY KEY, at timestamptz)")
            while not stop.is_set():
                conn.execute("INSERT INTO rpo_probe (at) VALUES (now())")
                row = conn.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn").fetchone()
                commits.append((time.time(), int(row[0])))
                stop.wait(WRITE_EVERY_S)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    samples: list[float] = []
    segment_bytes = 16 * 1024 * 1024
    deadline = time.monotonic() + seconds
    with psycopg.connect(dsn, autocommit=True) as conn:
        size = conn.execute("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'").fetchone()
        segment_bytes = int(size[0]) if size else segment_bytes
        while time.monotonic() < deadline:
            time.sleep(SAMPLE_EVERY_S)
            status = archive_status(conn)
            if not commits:
                continue
            name = (status.last_archived_wal or "0" * 24)[:24]
            archived_end = (int(name[8:16], 16) * 0x100000000 // segment_bytes + int(name[16:24], 16) + 1) \
                * segment_bytes
            written = list(commits)
            safe = [t for t, lsn in written if lsn <= archived_end]
            # nothing of the load archived yet: all of it would be lost, back to its first commit
            samples.append(time.time() - (max(safe) if safe else written[0][0]))
    stop.set()
    writer.join()
    ordered = sorted(samples)
    return {"seconds": seconds, "archive_timeout_s": settings.pitr.archive_timeout_s, "commits": len(commits),
            "samples": len(samples), "rpo_max_s": round(max(samples), 2) if samples else None,
            "rpo_p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 2) if samples else None,
            "rpo_median_s": round(statistics.median(samples), 2) if samples else None}


def _restore(store: Path) -> dict[str, Any]:
    """Migrate, back up (full, then incremental), note a time between writes, recover to it; the figures."""
    import pipeline_bench
    import psycopg
    import workloads
    from psycopg import sql

    from vectorops.backup.pitr.base_backup import take_base_backup
    from vectorops.backup.pitr.recover import recover_to_time, remove_recovered
    from vectorops.db import runtime

    def on_table(statement: str) -> sql.Composed:
        return sql.SQL(statement).format(table=sql.Identifier(SCHEMA, "bench_vectors"))

    # first the worst case: a base backup from before the migration, so the recovery replays all of its WAL
    settings = _restart(True)
    dsn = runtime.dsn(settings)
    workloads.drop_schema(dsn, SCHEMA)
    take_base_backup(settings, full=True)
    migrated = pipeline_bench._vectorops(store, None)
    time.sleep(1.0)
    after_migration = datetime.now(UTC)
    with psycopg.connect(dsn, autocommit=True) as conn:  # a commit after the target, as an application's would be
        conn.execute(on_table("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} LIMIT 1)"))
    def recovered(target: datetime, query: str) -> tuple[Any, Any]:
        """Recover to ``target``; the scratch server and what ``query`` returns there, the server removed."""
        server = recover_to_time(settings, target)
        try:
            with psycopg.connect(server.dsn) as conn:
                return server, conn.execute(on_table(query)).fetchone()
        finally:
            remove_recovered(server.directory)

    replayed, replayed_rows = recovered(after_migration, "SELECT count(*) FROM {table}")
    wal_mb = round(_size(settings.pitr.wal_dir) / 1e6)

    clock = time.perf_counter()
    full = take_base_backup(settings, full=True)
    full_s = time.perf_counter() - clock
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(on_table("UPDATE {table} SET document = 'rewritten' WHERE id IN "
                              "(SELECT id FROM {table} LIMIT 1000)"))
    clock = time.perf_counter()
    incremental = take_base_backup(settings)
    incremental_s = time.perf_counter() - clock
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(on_table("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} LIMIT 100)"))
        time.sleep(1.0)
        target = datetime.now(UTC)
        noted = conn.execute(on_table("SELECT count(*), sum(hashtext(id)) FROM {table}")).fetchone()
        time.sleep(1.0)
        conn.execute(on_table("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} LIMIT 100)"))
    server, found = recovered(target, "SELECT count(*), sum(hashtext(id)) FROM {table}")
    return {"rows": migrated["loaded"], "replay_migration_s": round(replayed.seconds, 2), "replayed_wal_mb": wal_mb,
            "replayed_rows_complete": bool(replayed_rows and replayed_rows[0] == migrated["loaded"]),
            "full_backup_s": round(full_s, 2),
            "full_backup_mb": round(full.size_bytes / 1e6),
            "incremental_backup_s": round(incremental_s, 2),
            "incremental_backup_mb": round(incremental.size_bytes / 1e6),
            "restore_to_time_s": round(server.seconds, 2),
            "chain": list(server.chain), "rows_as_noted": found == noted}


def _offsite() -> dict[str, Any]:
    """On the migrated table the restore part left: a full base backup, writes, a noted time; the copy of the whole
    repository to a fresh ``file://`` off-site repository, then a recovery to that time from the local repository
    (the baseline) and from the off-site copy alone (fetch, verify, combine, replay), rows compared."""
    import psycopg
    from psycopg import sql

    from vectorops.backup.pitr.archive_status import archive_now
    from vectorops.backup.pitr.base_backup import take_base_backup
    from vectorops.backup.pitr.offsite import copy_offsite
    from vectorops.backup.pitr.offsite_fetch import recover_offsite
    from vectorops.backup.pitr.recover import recover_to_time, remove_recovered
    from vectorops.config import load_settings
    from vectorops.db import runtime

    remote = isolation.CACHE_DIR / "offsite-remote"
    shutil.rmtree(remote, ignore_errors=True)
    os.environ["VECTOROPS_PITR_REMOTE"] = f"file://{remote}"
    _restart(True)  # a repository of its own: only this part's backup and WAL
    settings = load_settings()
    dsn = runtime.dsn(settings)
    table = sql.Identifier(SCHEMA, "bench_vectors")
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.bench_vectors",)).fetchone() == (None,):
            raise SystemExit("the off-site part runs on the table the restore part migrates: run --parts restore first")
    take_base_backup(settings, full=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("UPDATE {} SET document = 'offsite' WHERE id IN (SELECT id FROM {} LIMIT 1000)")
                     .format(table, table))
        time.sleep(1.0)
        target = datetime.now(UTC)
        noted = conn.execute(sql.SQL("SELECT count(*), sum(hashtext(id || document)) FROM {}").format(table)).fetchone()
        time.sleep(1.0)
        conn.execute(sql.SQL("DELETE FROM {} WHERE id IN (SELECT id FROM {} LIMIT 100)").format(table, table))
        archive_now(conn)
    copied = copy_offsite(settings)
    found = {}
    for where, recover in (("local", lambda: recover_to_time(settings, target)),
                           ("offsite", lambda: recover_offsite(settings, target))):
        clock = time.perf_counter()
        server = recover()
        seconds = time.perf_counter() - clock
        try:
            with psycopg.connect(server.dsn) as conn:
                rows = conn.execute(sql.SQL("SELECT count(*), sum(hashtext(id || document)) FROM {}")
                                    .format(table)).fetchone()
        finally:
            remove_recovered(server.directory)
        found[where] = {"seconds": round(seconds, 2), "rows_as_noted": rows == noted}
    shutil.rmtree(remote, ignore_errors=True)
    return {"copy_s": round(copied.seconds, 2), "copy_mb": round(copied.bytes_copied / 1e6),
            "copy_mb_per_s": round(copied.bytes_copied / 1e6 / copied.seconds, 1),
            "restore_local_s": found["local"]["seconds"], "restore_offsite_s": found["offsite"]["seconds"],
            "ratio_offsite_over_local": round(found["offsite"]["seconds"] / found["local"]["seconds"], 2),
            "rows_as_noted": found["local"]["rows_as_noted"] and found["offsite"]["rows_as_noted"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--rpo-seconds", type=float, default=180.0)
    parser.add_argument("--parts", default="migration,rpo,restore,offsite",
                        help="comma-separated parts to run; the others are kept from the last JSON of this size")
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    path = isolation.CACHE_DIR / f"pitr_bench-{args.rows}.json"
    document: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {"rows": args.rows}
    from synthetic_store import is_seeded, seed_store, store_path

    store = store_path(isolation.CACHE_DIR, args.rows, 384, "embedding")
    if not is_seeded(store, args.rows, 384, "embedding"):
        seed_store(store, args.rows, 384, shape="embedding")
    if "migration" in parts:
        runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        for i in range(args.runs):
            for archive in ((False, True) if i % 2 == 0 else (True, False)):
                found = _migration(store, archive)
                runs[found["archive"]].append(found)
                _say(f"{args.rows:,} rows, archive {found['archive']}: {found['wall_s']:.1f} s, durable after "
                     f"{found['durable_s']:.1f} s (index {found['index_s']:.1f} s, archive {found['archive_mb']} MB)")
        medians = {mode: {k: round(statistics.median(r[k] for r in found), 3) for k in found[0]
                          if isinstance(found[0][k], int | float)} for mode, found in runs.items()}
        document.update(runs=runs, medians=medians, ratio_on_over_off={
            k: round(medians["on"][k] / medians["off"][k], 3)
            for k in ("wall_s", "durable_s", "index_s", "load_s") if medians["off"].get(k)},
            migration_at=datetime.now(UTC).isoformat(timespec="seconds"))
    if "rpo" in parts:
        document["rpo"] = _rpo(args.rpo_seconds) | {"at": datetime.now(UTC).isoformat(timespec="seconds")}
        rpo = document["rpo"]
        _say(f"RPO under a steady write load: max {rpo['rpo_max_s']} s, p95 {rpo['rpo_p95_s']} s")
    if "restore" in parts:
        document["restore"] = _restore(store) | {"at": datetime.now(UTC).isoformat(timespec="seconds")}
        _say(f"restore of {document['restore']['rows']:,} rows to a point in time: "
             f"{document['restore']['restore_to_time_s']} s")
    if "offsite" in parts:
        document["offsite"] = _offsite() | {"at": datetime.now(UTC).isoformat(timespec="seconds")}
        off = document["offsite"]
        _say(f"off-site: copied {off['copy_mb']} MB in {off['copy_s']} s; restore to a time "
             f"{off['restore_offsite_s']} s from off-site against {off['restore_local_s']} s locally "
             f"({off['ratio_offsite_over_local']}x)")
    document["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    path.write_text(json.dumps(document, indent=1))
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
