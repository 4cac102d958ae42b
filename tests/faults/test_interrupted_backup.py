"""Backups interrupted half-way: the dump or the verifying restore is killed, or the process running it is.

Whatever is killed, the backup is never marked verified and never counts toward retention. When the backing-up
process itself dies, its ``pg_dump``/``pg_restore`` die with it (they used to run on, orphaned, writing a dump
nobody would record or keeping the scratch database in use), and the next backup closes the row as
``failed`` (it used to stay ``running``/``verifying`` for the whole retention period) and removes the scratch server
the killed verification left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.alert_receivers import use_webhook
from tests.faults.ledger_watch import wait_for
from tests.scratch_servers import backend_titles, running_servers, server_directories
from tests.support import add_records, chroma_client, forget_collection, forget_schema, migrate_in_process
from vectorops.backup import jobs, ledger
from vectorops.backup.retention import plan_retention
from vectorops.backup.take import take_backup
from vectorops.config import load_settings
from vectorops.naming import table_name_for

SCHEMA, COLLECTION, ROWS = "bkfault", "bk-fault", 6000
TAKE = """
import sys
from vectorops.backup import jobs
from vectorops.config import load_settings
sys.exit(0 if jobs.run_backup(load_settings(), sys.argv[1], run_id="bkfault-take", retention=False).report.ok else 1)
"""
VERIFY = """
import sys
from vectorops.backup import jobs
sys.exit(0 if jobs.verify_and_record(sys.argv[1], sys.argv[2], run_id="bkfault-verify").ok else 1)
"""


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> Iterator[str]:
    """A collection whose HNSW index takes seconds to rebuild, so a restore can be caught half-way."""
    path = tmp_path_factory.mktemp("chroma-bkfault")
    col = chroma_client(path).create_collection(COLLECTION, configuration={"hnsw": {
        "space": "l2", "max_neighbors": 16, "ef_construction": 256}})
    add_records(col, [f"b{i:05d}" for i in range(ROWS)],
                np.random.default_rng(9).standard_normal((ROWS, 48), dtype=np.float32))
    migrate_in_process(settings, {"chroma_path": str(path), "target_schema": SCHEMA}, "bkfault-setup")
    yield table_name_for(COLLECTION)
    forget_collection(dsn, COLLECTION, SCHEMA)
    forget_schema(dsn, SCHEMA)


@pytest.fixture
def backup_settings(tmp_path: Path, migrated: str, monkeypatch: pytest.MonkeyPatch, http_receiver: Any) -> Any:
    monkeypatch.setenv("VECTOROPS_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.delenv("CHROMA_DB_PATH", raising=False)
    use_webhook(monkeypatch, http_receiver.url("/bkfault"))
    monkeypatch.setenv("VECTOROPS_BACKUP_KEEP", "1")
    return load_settings()


def _proc_stat(pid: int) -> tuple[str, str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()
    return text[text.index("(") + 1:text.rindex(")")], rest[0], int(rest[1])


def _child(parent: int, name: str) -> int | None:
    """The pid of ``parent``'s running child process called ``name``."""
    for entry in Path("/proc").iterdir():
        stat = _proc_stat(int(entry.name)) if entry.name.isdigit() else None
        if stat and stat[0] == name and stat[2] == parent and stat[1] != "Z":
            return int(entry.name)
    return None


def _running(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[1] != "Z"


@contextmanager
def _table_locked(dsn: str, table: str) -> Iterator[None]:
    """ACCESS EXCLUSIVE on the live table: pg_dump, half-way (snapshot taken, file open), waits for it."""
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(SCHEMA, table)))
        yield
        conn.rollback()


def _sessions(dsn: str, where: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return int(conn.execute(sql.SQL("SELECT count(*) FROM pg_stat_activity WHERE {}").format(
            sql.SQL(where))).fetchone()[0])  # type: ignore[arg-type]


def _start_backup(dsn: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    """Take and verify a backup in another process (as ``vectorops backup`` does, without its bootstrap, whose
    DDL would wait for the test's lock)."""
    with open(tmp_path / "backup.log", "wb") as out:
        return subprocess.Popen([sys.executable, "-c", TAKE, dsn], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _dump_waiting(dsn: str, proc: subprocess.Popen[bytes]) -> int:
    """The pg_dump of ``proc``, once it waits for the locked table."""
    if not wait_for(lambda: _sessions(dsn, "application_name = 'pg_dump' AND wait_event_type = 'Lock'") == 1
                    or proc.poll() is not None, 60):
        with psycopg.connect(dsn, autocommit=True) as conn:
            activity = conn.execute("SELECT application_name, state, wait_event_type, left(query, 100) "
                                    "FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchall()
        raise AssertionError(f"pg_dump never waited for the table: {activity}")
    pid = _child(proc.pid, "pg_dump")
    assert pid, f"no pg_dump under the backup process (exit {proc.poll()})"
    return pid


def _newest(dsn: str, since: datetime) -> ledger.BackupRow:
    (row,) = [r for r in ledger.list_backups(dsn) if r.started_at >= since]
    return row


def _counted(dsn: str, settings: Any, ids: list[str]) -> list[str]:
    """The backups of ``ids`` that retention would keep (only verified ones count)."""
    rows = [r for r in ledger.list_backups(dsn) if r.backup_id in ids]
    return plan_retention(rows, settings.backup, datetime.now(UTC)).kept


def test_a_killed_pg_dump_fails_the_backup_which_never_counts(
        backup_settings: Any, dsn: str, migrated: str, http_receiver: Any, tmp_path: Path) -> None:
    good = jobs.run_backup(backup_settings, dsn, run_id="bkfault-good", retention=False)
    assert good.report.ok
    since = datetime.now(UTC)
    with _table_locked(dsn, migrated):
        proc = _start_backup(dsn, tmp_path)
        os.kill(_dump_waiting(dsn, proc), signal.SIGKILL)
    assert proc.wait(120) == 1, (tmp_path / "backup.log").read_text()[-3000:]
    row = _newest(dsn, since)
    assert row.status == "failed" and row.verified_at is None
    assert "pg_dump" in (row.error or "") and "exit code -9" in (row.error or "")
    posts = [p.json() for p in http_receiver.posts if p.json()["event"] == jobs.BACKUP_FAILED]
    assert len(posts) == 1 and row.backup_id in posts[0]["message"]
    assert _counted(dsn, backup_settings, [good.taken.backup_id, row.backup_id]) == [good.taken.backup_id]


def test_a_backup_killed_mid_dump_takes_its_pg_dump_along_and_is_closed_by_the_next(
        backup_settings: Any, dsn: str, migrated: str, tmp_path: Path) -> None:
    since = datetime.now(UTC)
    with _table_locked(dsn, migrated):
        proc = _start_backup(dsn, tmp_path)
        dump = _dump_waiting(dsn, proc)
        os.kill(proc.pid, signal.SIGKILL)  # the backing-up process only, not its process group
        proc.wait()
        assert wait_for(lambda: not _running(dump), 5), "pg_dump ran on after the backup process died"
        assert wait_for(lambda: _sessions(dsn, "application_name = 'pg_dump'") == 0, 5)
    killed = _newest(dsn, since)
    assert (killed.status, killed.verified_at) == ("running", None)

    after = jobs.run_backup(backup_settings, dsn, run_id="bkfault-after-kill", retention=False)
    assert after.report.ok
    closed = ledger.get(dsn, killed.backup_id)
    assert closed.status == "failed" and closed.verified_at is None
    assert (closed.error or "").startswith("interrupted: the process taking it ended before it finished")
    assert _counted(dsn, backup_settings, [killed.backup_id, after.taken.backup_id]) == [after.taken.backup_id]


@pytest.mark.parametrize("victim", ["pg_restore", "verifier"])
def test_a_verification_killed_mid_restore_is_never_verified(
        victim: str, backup_settings: Any, dsn: str, migrated: str, http_receiver: Any, tmp_path: Path) -> None:
    home = backup_settings.home
    taken = take_backup(backup_settings, dsn, run_id="bkfault-verify")
    with open(tmp_path / "verify.log", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", VERIFY, dsn, taken.backup_id], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    seen: list[int] = []

    def building() -> bool:
        # the restore's session on the scratch server, by its process title: CREATE INDEX while the HNSW graph is
        # built; kept from the sighting itself, as a small table's build may be over by the time one asks again
        seen.extend(pid for pid in running_servers(home) if any(
            title.startswith("postgres: vectorops_restore ") and "CREATE INDEX" in title
            for title in backend_titles(pid)))
        return bool(seen)

    assert wait_for(lambda: building() or proc.poll() is not None, 120, 0.02), "the restore was never seen"
    assert seen, f"the verification ended (exit {proc.poll()}) before its restore was seen building an index"
    scratch = seen[0]  # the scratch server's postmaster

    def restoring() -> bool:
        return any(title.startswith("postgres: vectorops_restore ") for title in backend_titles(scratch))

    restore = _child(proc.pid, "pg_restore")
    assert restore, "no pg_restore under the verifying process"
    os.kill(restore if victim == "pg_restore" else proc.pid, signal.SIGKILL)
    proc.wait(120)
    row = ledger.get(dsn, taken.backup_id)
    assert row.verified_at is None
    if victim == "pg_restore":
        assert proc.returncode == 1 and row.status == "failed" and "restore_succeeded" in (row.error or "")
        (post,) = [p.json() for p in http_receiver.posts if p.json()["event"] == jobs.VERIFICATION_FAILED]
        assert taken.backup_id in post["message"]
    else:
        assert row.status == "verifying"
        assert wait_for(lambda: not _running(restore), 1), "pg_restore ran on after the verifier died"
        assert wait_for(lambda: not restoring(), 2.5), "its session ran on"
        assert list(running_servers(home)) == [scratch]  # left behind, until the next verification
        after = jobs.run_backup(backup_settings, dsn, run_id="bkfault-after-verify", retention=False)
        assert after.report.ok
        row = ledger.get(dsn, taken.backup_id)
        assert row.status == "failed" and (row.error or "").startswith("interrupted: the process verifying it")
        assert _counted(dsn, backup_settings, [taken.backup_id, after.taken.backup_id]) == [after.taken.backup_id]
    assert _counted(dsn, backup_settings, [taken.backup_id]) == []
    assert not _running(scratch) and running_servers(home) == {} and server_directories(home) == []
