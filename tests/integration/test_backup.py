"""Verified backups against the real server, Chroma and Airflow: restore, corruption, retention, staleness, DAG;
verification on a scratch server, off the production server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.alert_receivers import use_webhook
from tests.faults.ledger_watch import wait_for
from tests.scratch_servers import pg_restore_ports, running_servers, server_directories
from tests.support import add_records, chroma_client, fresh_database, migrate_in_process, pg_digest
from vectorops.backup.restore_server import AREA
from vectorops.config import load_settings
from vectorops.naming import table_name_for

SCHEMA = "bk"
COLLECTIONS = {"bk-l2": "l2", "bk-cos": "cosine"}


@pytest.fixture(scope="module")
def chroma_store(tmp_path_factory: pytest.TempPathFactory, settings: Any) -> Path:
    """Two small migrated collections in schema ``bk``; the Chroma store they came from."""
    path = tmp_path_factory.mktemp("chroma-bk")
    client = chroma_client(path)
    rng = np.random.default_rng(4)
    for name, space in COLLECTIONS.items():
        col = client.create_collection(name, configuration={"hnsw": {"space": space}})
        add_records(col, [f"{name}-{i:03d}" for i in range(300)], rng.standard_normal((300, 16), dtype=np.float32),
                    [f"doc {i}" for i in range(300)], [{"i": i, "even": i % 2 == 0} for i in range(300)])
    migrate_in_process(settings, {"chroma_path": str(path), "collections": list(COLLECTIONS),
                                  "target_schema": SCHEMA}, "bk-setup")
    return path


@pytest.fixture
def backup_env(tmp_path: Path, chroma_store: Path, monkeypatch: pytest.MonkeyPatch, http_receiver: Any) -> Any:
    """A temp backup directory, the Chroma path, and alerts posted to the test receiver; the new settings."""
    monkeypatch.setenv("VECTOROPS_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("CHROMA_DB_PATH", str(chroma_store))
    use_webhook(monkeypatch, http_receiver.url("/backup"))
    return load_settings()


@pytest.fixture
def fresh_db(dsn: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards; its DSN."""
    with fresh_database(dsn, "bk_restore") as database:
        yield database


def _alerts(http_receiver: Any, event: str) -> list[dict[str, Any]]:
    return [p.json() for p in http_receiver.posts if p.json().get("event") == event]


def _scratch_databases(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'vectorops_verify_%'")]


def test_backup_then_verified_restore_gives_identical_counts_and_checksums(
        backup_env: Any, dsn: str, fresh_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.backup import ledger
    from vectorops.backup.manifest import read_manifest
    from vectorops.cli import main
    from vectorops.quality import parity

    assert main.main(["backup"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "VERIFIED backup" in out
    row = ledger.list_backups(dsn, limit=1)[0]
    assert row.status == "verified" and row.verified_at is not None and row.verify_seconds
    # verified on a scratch server, which the ledger names
    assert (row.details or {})["verification"]["scratch_port"] not in (None, int(conninfo_to_dict(dsn)["port"]))
    backup_dir = Path(row.path)
    assert backup_dir.parent == backup_env.backup.directory
    manifest = read_manifest(backup_dir / "manifest.json")
    assert set(manifest.files) == {"vectors.dump", "roles.sql", "chroma.tar.gz"}
    # the roles and their memberships go into the backup, their passwords never
    roles = (backup_dir / "roles.sql").read_text()
    assert "CREATE ROLE vectorops_etl;" in roles and "GRANT vectorops_reader TO" in roles, roles[:2000]
    assert "PASSWORD" not in roles.upper().replace("NOPASSWORD", "") and "SCRAM-SHA-256$" not in roles
    assert (row.dump_sha256, row.chroma_sha256) == (manifest.files["vectors.dump"].sha256,
                                                    manifest.files["chroma.tar.gz"].sha256)
    assert SCHEMA in manifest.schemas and "vectorops" in manifest.schemas
    checks = {(t.schema, t.table): t for t in manifest.vector_tables}
    for name in COLLECTIONS:
        check = checks[(SCHEMA, table_name_for(name))]
        assert check.rows == 300 and len(check.top10 or []) == 10 and check.query_id == f"{name}-000"

    assert main.main(["restore", "--backup", str(backup_dir / "vectors.dump"), "--dsn", fresh_db]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    with psycopg.connect(dsn) as source, psycopg.connect(fresh_db) as restored:
        for name in COLLECTIONS:
            table = table_name_for(name)
            assert pg_digest(fresh_db, SCHEMA, table) == pg_digest(dsn, SCHEMA, table)
            assert parity.table_checksum(restored, SCHEMA, table) == parity.table_checksum(source, SCHEMA, table)
        query = "SELECT collection, table_name, loaded_count FROM vectorops.collection_registry ORDER BY 1"
        assert restored.execute(query).fetchall() == source.execute(query).fetchall()

    # a second restore refuses to overwrite, naming the schemas; --clean replaces them and verifies again
    assert main.main(["restore", "--backup", str(backup_dir), "--dsn", fresh_db]) == 2
    err = capsys.readouterr().err
    # the backup holds every schema of the database, those earlier tests of the session left included
    named = re.search(r"already has schema\(s\) (.+?) of backup", err)
    assert named and {SCHEMA, "vectorops"} <= set(named[1].split(", ")), err
    assert "--clean" in err and "test-password" not in err
    assert main.main(["restore", "--backup", str(backup_dir / "manifest.json"), "--dsn", fresh_db, "--clean"]) == 0
    replaced = re.search(r"replacing schema\(s\) ([a-z0-9_, ]+)", capsys.readouterr().out)
    assert replaced and {SCHEMA, "vectorops"} <= set(replaced[1].split(", "))
    assert _scratch_databases(dsn) == []
    assert main.main(["backup", "--list"]) == 0
    assert re.search(rf"^{row.backup_id} +verified ", capsys.readouterr().out, re.MULTILINE)


def test_a_corrupted_dump_fails_verification_alerts_and_does_not_count_toward_retention(
        backup_env: Any, dsn: str, http_receiver: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.backup import jobs, ledger
    from vectorops.backup.retention import plan_retention
    from vectorops.backup.take import take_backup
    from vectorops.cli import main

    taken = take_backup(backup_env, dsn, run_id="bk-corrupt")
    dump = taken.directory / "vectors.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))

    report = jobs.verify_and_record(dsn, taken.backup_id, run_id="bk-corrupt")
    assert not report.ok
    assert [f["expectation"] for f in report.failures] == ["file_sha256_matches"]
    row = ledger.get(dsn, taken.backup_id)
    assert row.status == "failed" and row.verified_at is None and str(dump) in (row.error or "")
    posts = _alerts(http_receiver, jobs.VERIFICATION_FAILED)
    assert len(posts) == 1 and taken.backup_id in posts[0]["message"]
    assert posts[0]["failed_expectations"][0]["observed"]["file"] == str(dump)

    plan = plan_retention(ledger.list_backups(dsn), backup_env.backup, row.started_at)
    assert taken.backup_id not in plan.kept and taken.backup_id not in dict(plan.expired)
    assert main.main(["restore", "--backup", str(taken.directory), "--dsn", dsn]) == 1
    assert "does not match its manifest" in capsys.readouterr().err


def test_a_restore_that_differs_from_the_manifest_fails_and_the_scratch_server_is_removed(
        backup_env: Any, dsn: str) -> None:
    from vectorops.backup.signing import ensure_key, sign_manifest
    from vectorops.backup.take import take_backup
    from vectorops.backup.verify import verify_backup

    taken = take_backup(backup_env, dsn, run_id="bk-tampered")
    raw = json.loads(taken.manifest_path.read_text())
    tampered = next(t for t in raw["tables"] if t["sha256"] and t["schema"] == SCHEMA)
    tampered["sha256"] = "0" * 64
    tampered["top10"] = list(reversed(tampered["top10"]))
    taken.manifest_path.write_text(json.dumps(raw))

    unsigned = verify_backup(dsn, taken.manifest_path)  # edited without the key: refused before any restore
    assert [f["expectation"] for f in unsigned.failures] == ["manifest_signed"] and unsigned.database is None
    assert unsigned.port is None
    sign_manifest(taken.manifest_path, ensure_key(backup_env.home))  # signed with the key: the restore catches it
    report = verify_backup(dsn, taken.manifest_path)  # no recorded manifest hash
    assert {f["expectation"] for f in report.failures} == {"checksum_matches", "top10_matches"}
    assert report.database and report.port and report.port != int(conninfo_to_dict(dsn)["port"])
    assert server_directories(backup_env.home) == [] and _scratch_databases(dsn) == []


def test_retention_keeps_the_newest_n_verified_backups(backup_env: Any, dsn: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.backup import jobs, ledger

    monkeypatch.setenv("VECTOROPS_BACKUP_KEEP", "2")
    settings = load_settings()
    outcomes = [jobs.run_backup(settings, dsn, run_id=f"bk-retention-{i}") for i in range(3)]
    assert all(o.report.ok for o in outcomes)
    ids = [o.taken.backup_id for o in outcomes]
    newest_verified = [r.backup_id for r in ledger.list_backups(dsn, ("verified",))]
    assert newest_verified == [ids[2], ids[1]]
    assert ledger.get(dsn, ids[0]).status == "expired" and not outcomes[0].taken.directory.exists()
    assert all(o.taken.directory.exists() for o in outcomes[1:])
    assert (ids[0], "beyond the newest 2 verified backup(s)") in outcomes[2].retention.expired  # type: ignore[union-attr]


def test_staleness_alerts_when_the_newest_verified_backup_is_too_old(
        backup_env: Any, dsn: str, http_receiver: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.backup import jobs
    from vectorops.cli import main

    assert main.main(["backup", "--no-retention"]) == 0
    assert main.main(["backup", "--check-age"]) == 0
    assert "OK newest verified backup" in capsys.readouterr().out
    assert _alerts(http_receiver, jobs.BACKUP_STALE) == []

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE vectorops.backups SET started_at = started_at - interval '30 hours' "
                     "WHERE status = 'verified'")
    assert main.main(["backup", "--check-age"]) == 1
    assert "older than VECTOROPS_BACKUP_MAX_AGE_HOURS=26" in capsys.readouterr().out
    (post,) = _alerts(http_receiver, jobs.BACKUP_STALE)
    observed = post["failed_expectations"][0]["observed"]
    assert observed["age_hours"] > 26 and observed["max_age_hours"] == 26


def test_the_dag_is_daily_and_checks_age_whatever_happened_before() -> None:
    from vectorops.airflow.run import load_dag

    dag = load_dag("pgvector_backup")
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 2 * * *", "UTC")
    assert not dag.catchup and dag.max_active_runs == 1
    assert dag.task_dict["check_backup_age"].trigger_rule == "all_done"
    assert dag.task_dict["verify_backup"].upstream_task_ids == {"take_backup"}
    assert dag.task_dict["check_backup_age"].upstream_task_ids == {"verify_backup", "drill_recovery"}
    assert dag.task_dict["apply_retention"].upstream_task_ids == {"verify_backup"}
    assert dag.task_dict["take_base_backup"].upstream_task_ids == set()  # beside the dump, never waiting on it
    assert dag.task_dict["drill_recovery"].upstream_task_ids == {"take_base_backup", "verify_backup"}
    assert all(task.on_failure_callback for task in dag.tasks)


def test_the_dag_takes_verifies_and_retains_a_backup(backup_env: Any, airflow_db: dict[str, str], dsn: str,
                                                     http_receiver: Any) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag
    from vectorops.backup import ledger

    run = load_dag("pgvector_backup").test()
    with create_session() as session:
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
    assert str(run.state) == "success", states
    # the session's server archives no WAL, so the day's base backup is skipped (test_point_in_time takes one)
    assert (states.pop("take_base_backup"), states.pop("drill_recovery")) == ("skipped", "skipped")
    assert set(states.values()) == {"success"} and len(states) == 4
    newest = ledger.newest_verified(dsn)
    assert newest is not None and (newest.details or {}).get("run_id") == run.run_id
    assert Path(newest.path).parent == backup_env.backup.directory
    assert http_receiver.posts == []


@pytest.fixture
def unrestorable_table(dsn: str) -> Iterator[None]:
    """A platform table whose CHECK calls a function outside the dumped schemas: its dump cannot be restored."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION public.bk_always_true(integer) RETURNS boolean LANGUAGE sql IMMUTABLE "
                     "AS 'SELECT true'")
        conn.execute("CREATE TABLE vectorops.bk_unrestorable (n integer CHECK (public.bk_always_true(n)))")
        # as `db up` grants the platform's tables: the backup (vectorops_maint) reads it
        conn.execute("GRANT SELECT ON vectorops.bk_unrestorable TO vectorops_maint")
    yield
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE vectorops.bk_unrestorable")
        conn.execute("DROP FUNCTION public.bk_always_true(integer)")


def test_a_dag_run_whose_backup_does_not_restore_fails_alerts_once_and_still_checks_age(
        backup_env: Any, airflow_db: dict[str, str], dsn: str, http_receiver: Any, unrestorable_table: None) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag
    from vectorops.backup import jobs, ledger

    run = load_dag("pgvector_backup").test()
    with create_session() as session:
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
    assert str(run.state) == "failed"
    assert (states["take_backup"], states["verify_backup"], states["apply_retention"]) == (
        "success", "failed", "upstream_failed")
    assert states["check_backup_age"] in ("success", "failed")  # it ran, though verification failed
    (failed,) = [r for r in ledger.list_backups(dsn, ("failed",)) if (r.details or {}).get("run_id") == run.run_id]
    assert "bk_always_true" in (failed.error or "")
    assert "test-password" not in (failed.error or "") + json.dumps(failed.details)
    posts = [p.json() for p in http_receiver.posts]
    verification = [p for p in posts if p["event"] == jobs.VERIFICATION_FAILED]
    assert len(verification) == 1 and verification[0]["dag_id"] == "pgvector_backup"
    assert verification[0]["failed_expectations"][0]["expectation"] == "restore_succeeded"
    assert failed.backup_id in verification[0]["message"]
    assert [p for p in posts if p["event"] == "task_failed"] == []  # the failure callback does not alert twice
    assert [p["event"] for p in posts if p["event"] == jobs.BACKUP_STALE] == (
        [] if states["check_backup_age"] == "success" else [jobs.BACKUP_STALE])


def test_scratch_databases_left_by_a_killed_restore_are_dropped_by_the_next(dsn: str) -> None:
    from vectorops.backup.scratch_database import drop_abandoned_scratch_databases

    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("CREATE DATABASE vectorops_verify_abandoned0001")
        admin.execute("CREATE DATABASE vectorops_verifyxkeep")  # not ours: the prefix's "_" is literal
        with psycopg.connect(dsn.rsplit("/", 1)[0] + "/vectorops_verify_abandoned0001"):
            assert drop_abandoned_scratch_databases(admin) == []  # in use: left alone
        # the server ends a closed session's backend a moment later (long under load): wait until it has
        assert wait_for(lambda: admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                              "'vectorops_verify_abandoned0001'").fetchone()[0] == 0, 10)
        assert drop_abandoned_scratch_databases(admin) == ["vectorops_verify_abandoned0001"]
        left = {r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'vectorops_verify%'")}
        admin.execute("DROP DATABASE vectorops_verifyxkeep")
    assert left == {"vectorops_verifyxkeep"}


def _restore_calls(conn: psycopg.Connection) -> int:
    """Statements ``vectorops_restore`` ran on the production server, over its lifetime (pg_stat_statements)."""
    row = conn.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                       "WHERE userid = 'vectorops_restore'::regrole").fetchone()
    return int(row[0]) if row else 0


def test_verification_restores_on_a_scratch_server_and_the_production_server_sees_none_of_it(
        backup_env: Any, dsn: str) -> None:
    from vectorops.backup.take import take_backup
    from vectorops.backup.verify import verify_backup

    taken = take_backup(backup_env, dsn, run_id="bk-off-production")
    production_port = int(conninfo_to_dict(dsn)["port"])
    seen: dict[str, set[Any]] = {"servers": set(), "pg_restore": set(), "production": set()}
    done = threading.Event()

    def watch() -> None:
        with psycopg.connect(dsn, autocommit=True) as production:
            while not done.is_set():
                seen["servers"].update(running_servers(backup_env.home).values())
                seen["pg_restore"].update(pg_restore_ports())
                seen["production"].update(production.execute(
                    r"""SELECT 'database ' || datname FROM pg_database WHERE datname LIKE 'vectorops\_verify%'
                        UNION SELECT 'session ' || usename || ' ' || application_name FROM pg_stat_activity
                        WHERE usename = 'vectorops_restore' OR application_name IN
                              ('pg_restore', 'vectorops-backup-verify', 'vectorops-restore-compare')""").fetchall())
                time.sleep(0.01)

    with psycopg.connect(dsn, autocommit=True) as production:
        before = _restore_calls(production)
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            report = verify_backup(dsn, taken.manifest_path, settings=backup_env)
        finally:
            done.set()
            watcher.join()
        after = _restore_calls(production)
    assert report.ok, report.describe()
    assert report.port and report.port != production_port and f"127.0.0.1:{report.port}" in report.describe()
    # the dump was replayed on the scratch server's port, the one server that ran meanwhile
    assert seen["pg_restore"] == {report.port} and seen["servers"] == {report.port}, seen
    # and production ran none of it: no database made, no restore session, no statement of vectorops_restore
    assert seen["production"] == set() and after == before
    assert server_directories(backup_env.home) == [] and running_servers(backup_env.home) == {}
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=report.port, user="postgres", dbname="postgres", connect_timeout=3)


LEFT_RUNNING = """
import time
from vectorops.backup.restore_server import restore_server
from vectorops.config import load_settings
with restore_server(load_settings()) as server:
    print(server.port, flush=True)
    time.sleep(600)
"""


def _left_running() -> tuple[subprocess.Popen[str], int]:
    """A process inside a verification's scratch server, and that server's port."""
    proc = subprocess.Popen([sys.executable, "-c", LEFT_RUNNING], stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())  # type: ignore[union-attr]


def test_a_scratch_server_left_by_a_killed_verification_is_removed_by_the_next(backup_env: Any, dsn: str) -> None:
    from vectorops.backup.take import take_backup
    from vectorops.backup.verify import verify_backup
    from vectorops.db.scratch_server import remove_abandoned

    killed, port = _left_running()
    killed.kill()  # SIGKILL: no cleanup of its own
    killed.wait()
    (left,) = server_directories(backup_env.home)
    assert list(running_servers(backup_env.home).values()) == [port]

    live, live_port = _left_running()  # a verification still running: its server is left alone
    try:
        report = verify_backup(dsn, take_backup(backup_env, dsn, run_id="bk-after-kill").manifest_path,
                               settings=backup_env)
        assert report.ok, report.describe()
        assert not left.exists() and list(running_servers(backup_env.home).values()) == [live_port]
        assert remove_abandoned(backup_env.home / AREA) == []
    finally:
        live.kill()
        live.wait()
    assert len(remove_abandoned(backup_env.home / AREA)) == 1 and server_directories(backup_env.home) == []
