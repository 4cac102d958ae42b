"""Point-in-time recovery end to end, on a server of its own that archives its WAL as a user's server does by default:
a real migration, a full and an incremental base backup (``pg_basebackup``, ``pg_verifybackup``), writes and
deletes after a noted time, and ``vectorops restore --to-time`` starting a scratch server that holds exactly the rows
as of that time (``pg_combinebackup``, the archived WAL replayed by the server)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.alert_receivers import use_webhook
from tests.pitr_servers import archiving_server, free_port, scratch_dirs, server_dsn, vectorops
from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.catalog import RECORD, BaseBackup, base_backups, chain_before, chain_of, chains

FIXTURE_STORE = Path(__file__).parents[1] / "fixtures" / "stores" / "chroma-1.5.9" / "store"
SCHEMA = "pitr"


_free_port = free_port
_vectorops = vectorops
_dsn = server_dsn


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, str]]:
    """The environment of a server of this module's own, archiving every 2 s at the latest."""
    with archiving_server("vectorops-pitr-") as (_, env):
        yield env


def _rows(dsn: str, table: str) -> dict[str, str]:
    """Every row of ``table``: id → md5 of the whole row."""
    with psycopg.connect(dsn) as conn:
        query = sql.SQL("SELECT id, md5(t::text) FROM {} t").format(sql.Identifier(SCHEMA, table))
        return {str(r[0]): str(r[1]) for r in conn.execute(query)}


def _tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [str(r[0]) for r in conn.execute(
            "SELECT table_name FROM vectorops.collection_registry WHERE table_schema = %s ORDER BY 1", (SCHEMA,))]


def _write(dsn: str, table: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(table=sql.Identifier(SCHEMA, table)))


@pytest.mark.slow  # a migration, two base backups and a recovery: about a minute on 2 cores
def test_a_restore_to_a_time_holds_exactly_the_rows_as_of_that_time(server: dict[str, str]) -> None:
    migrated = _vectorops(server, "migrate", "--chroma-path", str(FIXTURE_STORE), "--schema", SCHEMA)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-3000:]
    dsn = _dsn(server)
    tables = _tables(dsn)
    assert tables, "the fixture store migrated no collection"
    table = tables[0]

    full = _vectorops(server, "backup", "--base")
    assert full.returncode == 0, full.stderr
    assert "(full)" in full.stdout and "verified by pg_verifybackup" in full.stdout, full.stdout
    # a write between the backups: the incremental one holds it, the recovery needs it
    _write(dsn, table, "UPDATE {table} SET document = 'between backups' WHERE id IN "
                       "(SELECT id FROM {table} ORDER BY id LIMIT 3)")
    incremental = _vectorops(server, "backup", "--base")
    assert incremental.returncode == 0, incremental.stderr
    assert "(incremental on " in incremental.stdout, incremental.stdout

    _write(dsn, table, "INSERT INTO {table} (id, embedding, document) SELECT 'before-T-' || g, embedding, 'new' "
                       "FROM {table} CROSS JOIN generate_series(1, 2) g WHERE id = (SELECT min(id) FROM {table})")
    time.sleep(1.0)
    target = datetime.now(UTC)
    expected = {t: _rows(dsn, t) for t in tables}
    time.sleep(1.0)
    # after T: deletes, an insert, an update, and a table dropped, none of which the recovered server may hold
    _write(dsn, table, "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id DESC LIMIT 5)")
    _write(dsn, table, "INSERT INTO {table} (id, embedding, document) SELECT 'after-T', embedding, 'late' "
                       "FROM {table} LIMIT 1")
    _write(dsn, table, "UPDATE {table} SET document = 'changed after T' WHERE id = (SELECT min(id) FROM {table})")
    assert _rows(dsn, table) != expected[table]

    restored = _vectorops(server, "restore", "--to-time", target.isoformat())
    assert restored.returncode == 0, restored.stdout + restored.stderr
    scratch = restored.stdout.strip().splitlines()[-1]
    assert scratch.startswith("postgresql://") or "host=127.0.0.1" in scratch, restored.stdout
    assert f"port={server['VECTOROPS_DB_PORT']} " not in scratch + " " and \
        f":{server['VECTOROPS_DB_PORT']}/" not in scratch, "the recovery must run off the production server"
    for name in tables:
        got = _rows(scratch, name)
        assert got.keys() == expected[name].keys(), (name, sorted(set(got) ^ set(expected[name]))[:10])
        assert got == expected[name], name
    assert "after-T" not in _rows(scratch, table) and "before-T-1" in _rows(scratch, table)
    # the scratch server is a primary of its own, and archives nothing into the production repository
    with psycopg.connect(scratch) as conn:
        assert conn.execute("SELECT pg_is_in_recovery(), current_setting('archive_mode')").fetchone() == (False, "off")
    # --stop refuses a directory it did not make, then stops the scratch server and removes its copy
    data = Path(restored.stdout.split("data in ", 1)[1].split(";", 1)[0])
    foreign = _vectorops(server, "restore", "--stop", str(Path(server["VECTOROPS_HOME"]) / "pgdata"))
    assert foreign.returncode != 0 and "is not the data directory of a server" in foreign.stderr, foreign.stderr
    assert _rows(dsn, table)  # the production server still runs
    lookalike = Path(tempfile.mkdtemp(prefix="vectorops-lookalike-")) / "data"
    lookalike.mkdir()
    (lookalike / "recovery.log").write_text("")
    (lookalike / "PG_VERSION").write_text("18\n")
    refused = _vectorops(server, "restore", "--stop", str(lookalike))
    assert refused.returncode != 0 and lookalike.exists(), refused.stderr
    shutil.rmtree(lookalike.parent)
    stopped = _vectorops(server, "restore", "--stop", str(data))
    assert stopped.returncode == 0 and "stopped the recovered server and removed" in stopped.stdout, stopped.stderr
    assert not data.parent.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(scratch, connect_timeout=3).close()

    home = Path(server["VECTOROPS_HOME"])
    for path in [home / "pitr", *(home / "pitr").rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        elif path.is_file():
            assert mode & 0o077 == 0, (path, oct(mode))


def test_a_target_before_every_base_backup_or_in_the_future_is_refused_in_one_line(server: dict[str, str]) -> None:
    _dsn(server)  # the server runs
    taken = _vectorops(server, "backup", "--base")
    assert taken.returncode == 0, taken.stderr
    early = _vectorops(server, "restore", "--to-time", "2001-01-01T00:00:00Z")
    assert early.returncode == 1 and "no base backup had finished by 2001-01-01T00:00:00+00:00" in early.stderr, \
        early.stderr
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    late = _vectorops(server, "restore", "--to-time", future)
    assert late.returncode == 1 and "is in the future" in late.stderr, late.stderr
    naive = _vectorops(server, "restore", "--to-time", "2026-12-06T03:00:00")
    assert naive.returncode == 1 and "has no time zone" in naive.stderr, naive.stderr
    nonsense = _vectorops(server, "restore", "--to-time", "yesterday")
    assert nonsense.returncode != 0 and "--to-time 'yesterday' is not an ISO 8601 time" in nonsense.stderr, \
        nonsense.stderr


def test_a_base_backup_without_archiving_is_refused_naming_the_setting(server: dict[str, str]) -> None:
    off = {**server, "VECTOROPS_WAL_ARCHIVE": "off"}
    refused = _vectorops(off, "backup", "--base")
    assert refused.returncode == 1 and "VECTOROPS_WAL_ARCHIVE=off" in refused.stderr, refused.stderr
    wrong = _vectorops({**server, "VECTOROPS_WAL_ARCHIVE": "maybe"}, "backup", "--base")
    assert wrong.returncode != 0 and "VECTOROPS_WAL_ARCHIVE='maybe' must be on or off" in wrong.stderr, wrong.stderr


def _record(directory: Path, label: str, finished: datetime, parent: str | None = None) -> BaseBackup:
    backup = BaseBackup(label=label, kind="incremental" if parent else "full", parent=parent,
                        started_at=finished - timedelta(minutes=1), finished_at=finished, start_lsn="0/1000028",
                        start_wal="000000010000000000000001",
                        timeline=1, size_bytes=1, directory=directory / label)
    (directory / label / "data").mkdir(parents=True)
    backup.write_record()
    return backup


def test_the_chain_is_the_newest_backup_before_the_target_back_to_its_full_one(tmp_path: Path) -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    full = _record(tmp_path, "a-full", t0)
    first = _record(tmp_path, "b-incr", t0 + timedelta(days=1), parent="a-full")
    second = _record(tmp_path, "c-incr", t0 + timedelta(days=2), parent="b-incr")
    (tmp_path / "d-unfinished" / "data").mkdir(parents=True)  # no record: never finished or never verified
    found = base_backups(tmp_path)
    assert [b.label for b in found] == ["a-full", "b-incr", "c-incr"]
    assert json.loads((tmp_path / "a-full" / RECORD).read_text())["kind"] == "full"
    assert [b.label for b in chain_before(found, t0 + timedelta(days=1, hours=1))] == [full.label, first.label]
    assert [b.label for b in chain_before(found, t0 + timedelta(days=3))] == [full.label, first.label, second.label]
    with pytest.raises(BackupError, match="no base backup had finished by"):
        chain_before(found, t0)
    later = _record(tmp_path, "e-full", t0 + timedelta(days=4))
    assert [[b.label for b in chain] for chain in chains(base_backups(tmp_path))] == \
        [["a-full", "b-incr", "c-incr"], [later.label]]
    shutil.rmtree(tmp_path / "b-incr")
    with pytest.raises(BackupError, match="was taken on b-incr, which the repository no longer holds"):
        chain_of(base_backups(tmp_path), second)
    # a recovery passes over the broken chain for the older intact one (more WAL to replay), and says so
    assert [b.label for b in chain_before(base_backups(tmp_path), t0 + timedelta(days=3, hours=1))] == ["a-full"]
    # a record naming itself (or a younger backup) as its parent is damaged, never followed round
    looped = _record(tmp_path, "f-loop", t0 + timedelta(days=5), parent="f-loop")
    with pytest.raises(BackupError, match="is not older than it: the record is damaged"):
        chain_of(base_backups(tmp_path), looped)
    (tmp_path / "f-loop" / RECORD).write_text("{")  # an unreadable record is left out, with a warning
    assert "f-loop" not in [b.label for b in base_backups(tmp_path)]
    # an incremental backup whose chain lost its full one belongs to no chain: retention never keeps it for it
    assert [[b.label for b in chain] for chain in chains(base_backups(tmp_path))] == [["a-full"], [later.label]]


def test_retention_keeps_the_newest_full_chains_and_the_wal_they_need(server: dict[str, str]) -> None:
    _dsn(server)
    keep_one = {**server, "VECTOROPS_BASE_KEEP_FULL": "1"}
    first = _vectorops(keep_one, "backup", "--base", "--full")
    assert first.returncode == 0, first.stderr
    with psycopg.connect(_dsn(server), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.retention_probe (id int)")
    between = datetime.now(UTC)
    time.sleep(1.0)
    second = _vectorops(keep_one, "backup", "--base", "--full")
    assert second.returncode == 0, second.stderr
    assert "kept 1 base backup(s) in 1 full chain(s)" in second.stdout, second.stdout
    home = Path(server["VECTOROPS_HOME"])
    kept = base_backups(home / "pitr" / "base")
    assert len(kept) == 1 and kept[0].kind == "full"
    assert not any(d.is_dir() and not (d / RECORD).exists() for d in (home / "pitr" / "base").iterdir())
    segments = sorted(p.name for p in (home / "pitr" / "wal").iterdir() if len(p.name) == 24)
    assert segments and segments[0][8:] >= kept[0].start_wal[8:], (segments[:3], kept[0].start_wal)
    # the expired chain's time can no longer be recovered, and says so; a time after the kept backup still can
    refused = _vectorops(server, "restore", "--to-time", between.isoformat())
    assert refused.returncode == 1 and "no base backup had finished by" in refused.stderr, refused.stderr
    with psycopg.connect(_dsn(server), autocommit=True) as conn:
        conn.execute("INSERT INTO public.retention_probe VALUES (1)")
    time.sleep(1.0)
    after = datetime.now(UTC)
    recovered = _vectorops(server, "restore", "--to-time", after.isoformat())
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    with psycopg.connect(recovered.stdout.strip().splitlines()[-1]) as conn:
        assert conn.execute("SELECT count(*) FROM public.retention_probe").fetchone() == (1,)
    data = recovered.stdout.split("data in ", 1)[1].split(";", 1)[0]
    assert _vectorops(server, "restore", "--stop", data).returncode == 0


def test_the_daily_backup_dag_takes_the_base_backup_of_an_archiving_server(
        server: dict[str, str], airflow_db: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    if not _tables(_dsn(server)):  # this test without the module's migration before it: the DAG skips an empty one
        migrated = _vectorops(server, "migrate", "--chroma-path", str(FIXTURE_STORE), "--schema", SCHEMA)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    home = Path(server["VECTOROPS_HOME"])
    before = {b.label for b in base_backups(home / "pitr" / "base")}
    for name in ("VECTOROPS_HOME", "VECTOROPS_DB_PORT", "VECTOROPS_WAL_ARCHIVE", "VECTOROPS_ARCHIVE_TIMEOUT_S"):
        monkeypatch.setenv(name, server[name])
    run = load_dag("pgvector_backup").test()
    with create_session() as session:
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
    assert states["take_base_backup"] == "success", states
    taken = [b for b in base_backups(home / "pitr" / "base") if b.label not in before]
    assert len(taken) == 1 and taken[0].finished_at > datetime.now(UTC) - timedelta(minutes=5)
    # the drill ran after the dump was verified, from the base backups that had finished before its snapshot
    assert states["drill_recovery"] == "success", states
    with psycopg.connect(_dsn(server)) as conn:
        assert conn.execute("SELECT status FROM vectorops.recovery_drills ORDER BY finished_at DESC LIMIT 1"
                            ).fetchone() == ("passed",)


@pytest.mark.slow  # a recovery, a logical backup of it and a verified restore: about a minute on 2 cores
def test_a_restore_to_a_time_into_a_database_goes_through_the_verified_restore(server: dict[str, str]) -> None:
    dsn = _dsn(server)
    if not _tables(dsn):  # this test alone: migrate first
        migrated = _vectorops(server, "migrate", "--chroma-path", str(FIXTURE_STORE), "--schema", SCHEMA)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    table = _tables(dsn)[0]
    assert _vectorops(server, "backup", "--base").returncode == 0
    _write(dsn, table, "UPDATE {table} SET document = 'as of T' WHERE id = (SELECT min(id) FROM {table})")
    time.sleep(1.0)
    target = datetime.now(UTC)
    expected = _rows(dsn, table)
    time.sleep(1.0)
    _write(dsn, table, "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id DESC LIMIT 4)")
    name = "pitr_target"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target_dsn = psycopg.conninfo.make_conninfo(dsn, dbname=name)
    done = _vectorops(server, "restore", "--to-time", target.isoformat(), "--dsn", target_dsn)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout and f"as of {target.isoformat()}" in done.stdout, done.stdout
    assert _rows(target_dsn, table) == expected
    # nothing is left behind: no scratch server, no copy, no intermediate dump
    assert not scratch_dirs(Path(server["VECTOROPS_HOME"]) / "recovered")
    assert not list(Path(tempfile.gettempdir()).glob("vectorops-pitr-dump-*"))
    # a second run into the same database refuses to replace its schemas without --clean, and changes nothing
    again = _vectorops(server, "restore", "--to-time", target.isoformat(), "--dsn", target_dsn)
    assert again.returncode != 0 and "--clean" in again.stderr, again.stderr
    assert _rows(target_dsn, table) == expected
    assert not scratch_dirs(Path(server["VECTOROPS_HOME"]) / "recovered")


def _drill_rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT status, scratch_port, backup_id, error FROM vectorops.recovery_drills "
                            "ORDER BY finished_at DESC").fetchall()


@pytest.mark.slow  # a dump taken under writes, then a recovery and a comparison: about a minute on 2 cores
def test_the_drill_recovers_a_dump_taken_under_writes_and_compares_it_off_the_production_server(
        server: dict[str, str]) -> None:
    dsn = _dsn(server)
    if not _tables(dsn):
        migrated = _vectorops(server, "migrate", "--chroma-path", str(FIXTURE_STORE), "--schema", SCHEMA)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    table = _tables(dsn)[0]
    assert _vectorops(server, "backup", "--base").returncode == 0
    stop = threading.Event()

    def write() -> None:  # an application writing all along: the dump's snapshot is in the middle of it
        with psycopg.connect(dsn, autocommit=True) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                conn.execute(sql.SQL("INSERT INTO {t} (id, embedding, document) SELECT {i}, embedding, 'during' "
                                     "FROM {t} WHERE id = (SELECT min(id) FROM {t})").format(
                    t=sql.Identifier(SCHEMA, table), i=sql.Literal(f"drill-{n}-{time.time_ns()}")))
                time.sleep(0.01)

    for _ in range(3):  # a commit in the microseconds between the snapshot and the WAL position: inconclusive
        stop.clear()
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            dumped = _vectorops(server, "backup", "--no-retention")
        finally:
            stop.set()
            writer.join()
        assert dumped.returncode == 0 and "VERIFIED" in dumped.stdout, dumped.stdout + dumped.stderr
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")
        drilled = _vectorops(server, "backup", "--drill")
        if not drilled.stdout.startswith("INCONCLUSIVE "):
            break
    assert drilled.returncode == 0 and drilled.stdout.startswith("PASSED "), drilled.stdout + drilled.stderr
    status, port, backup_id, _ = _drill_rows(dsn)[0]
    assert status == "passed" and backup_id in dumped.stdout
    assert port and str(port) != server["VECTOROPS_DB_PORT"] and f"port {port}" in drilled.stdout
    # none of the comparison's reads of the table reached the production server
    with psycopg.connect(dsn) as conn:
        touched = conn.execute("SELECT query FROM pg_stat_statements WHERE query LIKE %s",
                               (f"%{table}%",)).fetchall()
    assert touched == [], touched


def test_a_drill_whose_archive_lost_a_segment_fails_records_and_alerts(
        server: dict[str, str], http_receiver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = _dsn(server)
    home = Path(server["VECTOROPS_HOME"])
    assert _vectorops(server, "backup", "--base", "--full").returncode == 0
    newest = base_backups(home / "pitr" / "base")[-1]
    with psycopg.connect(dsn, autocommit=True) as conn:  # WAL after the base backup, archived
        conn.execute("CREATE TABLE IF NOT EXISTS public.drill_gap (n int)")
        conn.execute("INSERT INTO public.drill_gap SELECT generate_series(1, 1000)")
        conn.execute("SELECT pg_switch_wal()")
    dumped = _vectorops(server, "backup", "--no-retention")
    assert dumped.returncode == 0, dumped.stderr
    time.sleep(3.0)  # archive_timeout 2 s: the segment of the dump's snapshot is archived
    lost = [p for p in (home / "pitr" / "wal").iterdir() if len(p.name) == 24 and p.name[8:] > newest.start_wal[8:]]
    assert lost, "no archived segment after the base backup"
    for segment in lost:
        segment.unlink()
    use_webhook(monkeypatch, http_receiver.url("/drill"))
    env = {**server, **{k: v for k, v in os.environ.items() if k.startswith(("AIRFLOW_CONN_", "VECTOROPS_ALERT_"))}}
    drilled = _vectorops(env, "backup", "--drill")
    assert drilled.returncode == 1 and drilled.stdout.startswith("FAILED "), drilled.stdout + drilled.stderr
    status, _, _, error = _drill_rows(dsn)[0]
    assert status == "failed" and "to WAL position" in error, error
    posts = [p.json() for p in http_receiver.posts]
    assert [p["event"] for p in posts] == ["recovery_drill_failed"], posts
    assert not scratch_dirs(home / "recovered")  # nothing left running or on disk


def test_a_repository_setting_never_takes_over_a_directory_or_a_path_postgres_would_expand(
        server: dict[str, str]) -> None:
    shared = Path(tempfile.mkdtemp(prefix="vectorops-shared-"))
    try:
        shared.chmod(0o1777)
        (shared / "someone-elses-file").write_text("mine")
        before = shared.stat()
        other = {**server, "VECTOROPS_HOME": str(shared.with_name(shared.name + "-home")),
                 "VECTOROPS_DB_PORT": str(_free_port()), "VECTOROPS_PITR_DIR": str(shared)}
        refused = _vectorops(other, "db", "up")
        try:
            assert refused.returncode != 0 and "never takes over a directory it did not make" in refused.stderr, \
                refused.stderr
        finally:
            _vectorops(other, "db", "down")
        after = shared.stat()
        assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (
            before.st_uid, before.st_gid, stat.S_IMODE(before.st_mode))
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        shutil.rmtree(shared.with_name(shared.name + "-home"), ignore_errors=True)
    for path, says in (("/tmp/pitr 50%p", "'%'"), ("/", "the file system's root"),
                       (str(Path(server["VECTOROPS_HOME"]) / "pgdata" / "pitr"), "inside or above the server's data")):
        bad = _vectorops({**server, "VECTOROPS_PITR_DIR": path}, "backup", "--base")
        assert bad.returncode == 2 and "VECTOROPS_PITR_DIR=" in bad.stderr and says in bad.stderr, bad.stderr


def test_a_damaged_base_backup_is_never_recovered_from_nor_built_on(server: dict[str, str]) -> None:
    dsn = _dsn(server)
    home = Path(server["VECTOROPS_HOME"])
    assert _vectorops(server, "backup", "--base", "--full").returncode == 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.damage_probe (n int)")
        conn.execute("INSERT INTO public.damage_probe SELECT generate_series(1, 100)")
    time.sleep(1.0)
    target = datetime.now(UTC)
    newest = base_backups(home / "pitr" / "base")[-1]
    victim = next(p for p in sorted((newest.data / "base").rglob("*")) if p.is_file() and p.stat().st_size > 8192)
    victim.unlink()  # a file lost from the backup since it was taken
    refused = _vectorops(server, "restore", "--to-time", target.isoformat())
    assert refused.returncode == 1 and "pg_verifybackup of base backup" in refused.stderr, refused.stderr
    assert "is present in the manifest but not on disk" in refused.stderr, refused.stderr
    assert not scratch_dirs(home / "recovered")
    # the next base backup is full, not one on the damaged backup, and says why
    again = _vectorops(server, "backup", "--base")
    assert again.returncode == 0 and "(full)" in again.stdout, again.stdout + again.stderr
    assert "warning: " in again.stderr and newest.label in again.stderr, again.stderr


def test_stale_drills_alert_once_a_passed_one_is_older_than_the_backup_age_limit(
        server: dict[str, str], http_receiver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = _dsn(server)
    if not _tables(dsn):
        migrated = _vectorops(server, "migrate", "--chroma-path", str(FIXTURE_STORE), "--schema", SCHEMA)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert _vectorops(server, "backup", "--no-retention").returncode == 0  # a fresh verified dump
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM vectorops.recovery_drills")
        conn.execute("INSERT INTO vectorops.recovery_drills (drill_id, started_at, finished_at, status) "
                     "VALUES ('old', now() - interval '30 hours', now() - interval '30 hours', 'passed')")
    use_webhook(monkeypatch, http_receiver.url("/stale"))
    env = {**server, **{k: v for k, v in os.environ.items() if k.startswith(("AIRFLOW_CONN_", "VECTOROPS_ALERT_"))}}
    checked = _vectorops(env, "backup", "--check-age")
    assert checked.returncode == 1 and "STALE the newest passed recovery drill is 30.0 h old" in checked.stdout, \
        checked.stdout + checked.stderr
    assert [p.json()["event"] for p in http_receiver.posts] == ["recovery_drill_stale"]
    with psycopg.connect(dsn, autocommit=True) as conn:  # a platform whose first drill was inconclusive: no alert
        conn.execute("DELETE FROM vectorops.recovery_drills")
        conn.execute("INSERT INTO vectorops.recovery_drills (drill_id, started_at, status) "
                     "VALUES ('first', now(), 'inconclusive')")
    assert _vectorops(env, "backup", "--check-age").returncode == 0


def test_vector_health_shows_the_archive_lag_and_rpo_of_an_archiving_server(
        server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.backup.pitr.archive_status import archive_now
    from vectorops.web import queries
    from vectorops.web.recovery_panel import ARCHIVE_OFF, recovery_section
    from vectorops.web.recovery_status import recovery_health

    admin = _dsn(server)
    with psycopg.connect(admin, autocommit=True) as conn:
        segment = archive_now(conn)
    for name in ("VECTOROPS_HOME", "VECTOROPS_DB_PORT", "VECTOROPS_WAL_ARCHIVE"):
        monkeypatch.setenv(name, server[name])
    target = queries.current_target()  # vectorops_reader, as the page reads: no pg_monitor needed
    assert target.port == server["VECTOROPS_DB_PORT"] and "vectorops_reader" in target.dsn
    recovery = recovery_health(target, max_age_h=26.0)
    archive = recovery["archive"]
    assert archive["mode"] == "on" and archive["state"] in ("archiving", "behind"), archive
    assert archive["last_archived_wal"][:24] >= segment and archive["last_failed_wal"] is None, archive
    assert 0 <= archive["seconds_since_archive"] < 60 and 0 <= archive["rpo_seconds"] < 60, archive
    assert archive["segments_waiting"] >= 0 and archive["archive_timeout_s"] == 2, archive
    html = recovery_section(recovery)
    assert re.search(r'<span class="since-archive">last archived [0-9.]+ s ago</span>', html), html
    assert re.search(r'[0-9]+ segment\(s\) waiting', html) and ARCHIVE_OFF not in html, html
    assert recovery["drills"]["state"] in ("recorded", "none")

    # a server that revoked pg_stat_archiver from PUBLIC (in one database: the catalog's grants are per database)
    name = "vh_no_archiver"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(make_conninfo(admin, dbname=name), autocommit=True) as conn:
            conn.execute("REVOKE SELECT ON pg_catalog.pg_stat_archiver FROM PUBLIC")
        hidden = recovery_health(dataclasses.replace(target, dsn=make_conninfo(target.dsn, dbname=name)), 26.0)
        assert hidden["archive"]["state"] == "unknown", hidden
        assert hidden["archive"]["reason"] == ("vectorops_reader may not read pg_stat_archiver; a member of "
                                               "pg_monitor may")
        assert hidden["drills"]["state"] == "no_table"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
