"""Point-in-time recovery end to end, on a server of its own that archives its WAL as a user's server does by default:
a real migration, a full and an incremental base backup (``pg_basebackup``, ``pg_verifybackup``), writes and
deletes after a noted time, and ``vectorops restore --to-time`` starting a scratch server that holds exactly the rows
as of that time (``pg_combinebackup``, the archived WAL replayed by the server)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.catalog import RECORD, BaseBackup, base_backups, chain_before

FIXTURE_STORE = Path(__file__).parents[1] / "fixtures" / "stores" / "chroma-1.5.9" / "store"
SCHEMA = "pitr"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vectorops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vectorops.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, str]]:
    """The environment of a server of this module's own (outside pytest's base temp, which pytest makes private
    again, locking the server's user out), archiving every 2 s at the latest; stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="vectorops-pitr-"))
    env = {**os.environ, "VECTOROPS_HOME": str(root / "home"), "VECTOROPS_DB_PORT": str(_free_port()),
           "VECTOROPS_WAL_ARCHIVE": "on", "VECTOROPS_ARCHIVE_TIMEOUT_S": "2"}
    env.pop("VECTOROPS_DSN", None)
    try:
        up = _vectorops(env, "db", "up")
        assert up.returncode == 0, up.stderr
        yield env
    finally:
        recovered = root / "home" / "recovered"
        for data in recovered.glob("*/data") if recovered.exists() else []:
            _vectorops(env, "restore", "--stop", str(data))
        _vectorops(env, "db", "down")
        shutil.rmtree(root, ignore_errors=True)


def _dsn(env: dict[str, str]) -> str:
    done = _vectorops(env, "db", "dsn")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


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
    shutil.rmtree(tmp_path / "b-incr")
    with pytest.raises(BackupError, match="was taken on b-incr, which the repository no longer holds"):
        chain_before(base_backups(tmp_path), t0 + timedelta(days=3))
