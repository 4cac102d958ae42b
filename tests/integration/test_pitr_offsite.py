"""The off-site copy of the PITR repository through Airflow's ``ObjectStoragePath`` (``file://`` here; S3, GCS and
Azure take the same path through their providers), on an archiving server of this module's own: a recovery to a
point in time from the off-site copy alone, retention there by chain, private files, and copies that were killed,
damaged or collide with a file vectorops did not write."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.alert_receivers import use_webhook
from tests.pitr_servers import archiving_server, scratch_dirs
from tests.pitr_servers import server_dsn as _dsn
from tests.pitr_servers import vectorops as _vectorops
from vectorops.backup.pitr.catalog import RECORD
from vectorops.backup.pitr.offsite import LISTING, REPOSITORY


@pytest.fixture(scope="module")
def offsite() -> Iterator[tuple[dict[str, str], Path]]:
    """An archiving server whose off-site repository is ``<root>/remote`` (``file://``), and that repository."""
    remote = Path(tempfile.mkdtemp(prefix="vectorops-offsite-remote-")) / "pitr"
    try:
        with archiving_server("vectorops-offsite-", VECTOROPS_PITR_REMOTE=f"file://{remote}") as (_, env):
            yield env, remote
    finally:
        shutil.rmtree(remote.parent, ignore_errors=True)


def _ids(dsn: str) -> dict[int, str]:
    with psycopg.connect(dsn) as conn:
        return {int(r[0]): str(r[1]) for r in conn.execute("SELECT id, md5(t::text) FROM public.offsite_rows t")}


def _archived_through_now(dsn: str) -> None:
    """Wait until the segment holding everything committed so far is archived (the server switches every 2 s)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
        assert row is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            archived = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
            if archived and archived[0] and archived[0][:24] >= row[0]:
                return
            time.sleep(0.2)
    raise AssertionError(f"segment {row[0]} was not archived within 60 s")


@pytest.mark.slow  # two base backups, an off-site copy and a recovery from it: about 40 s on 2 cores
def test_a_point_in_time_recovers_from_the_offsite_copy_alone(offsite: tuple[dict[str, str], Path]) -> None:
    env, remote = offsite
    dsn = _dsn(env)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.offsite_rows (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO public.offsite_rows SELECT g, 'first ' || g FROM generate_series(1, 500) g")
    full = _vectorops(env, "backup", "--base")
    assert full.returncode == 0, full.stderr
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE public.offsite_rows SET note = 'between' WHERE id <= 50")
    incremental = _vectorops(env, "backup", "--base")
    assert incremental.returncode == 0 and "(incremental on " in incremental.stdout, incremental.stdout
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO public.offsite_rows SELECT g, 'second ' || g FROM generate_series(501, 600) g")
    time.sleep(1.0)
    target = datetime.now(UTC)
    expected = _ids(dsn)
    time.sleep(1.0)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM public.offsite_rows WHERE id > 550")
        conn.execute("UPDATE public.offsite_rows SET note = 'after T' WHERE id <= 10")
    _archived_through_now(dsn)

    copied = _vectorops(env, "backup", "--offsite")
    assert copied.returncode == 0, copied.stderr
    assert "off-site copy file://" in copied.stdout, copied.stdout
    # the base backups were copied by the base backups' own retention pass; this pass adds the WAL since
    local = Path(env["VECTOROPS_HOME"]) / "pitr"
    for backup in (local / "base").iterdir():
        assert (remote / "base" / backup.name / RECORD).read_bytes() == (backup / RECORD).read_bytes()
    local_wal = {p.name for p in (local / "wal").iterdir()}
    assert local_wal <= {p.name for p in (remote / "wal").iterdir()}
    # private: 0700 directories, 0600 files
    for path in [remote, *remote.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))

    # the local repository is gone (a new machine, the same settings): the recovery comes from off-site alone
    lost = {**env, "VECTOROPS_PITR_DIR": str(Path(env["VECTOROPS_HOME"]).parent / "new-disk" / "pitr")}
    restored = _vectorops(lost, "restore", "--to-time", target.isoformat())
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "recovering from the off-site copy" in restored.stderr and "(off-site)" in restored.stdout
    scratch = restored.stdout.strip().splitlines()[-1]
    assert _ids(scratch) == expected
    data = restored.stdout.split("data in ", 1)[1].split(";", 1)[0]
    assert _vectorops(env, "restore", "--stop", data).returncode == 0
    # nothing staged is left behind
    assert not [p for p in (Path(env["VECTOROPS_HOME"]) / "recovered").iterdir() if p.name.startswith("offsite-")]


def test_offsite_retention_keeps_the_newest_chains_and_the_wal_they_need(
        offsite: tuple[dict[str, str], Path]) -> None:
    env, remote = offsite
    keep_one = {**env, "VECTOROPS_BASE_KEEP_FULL": "1"}
    assert _vectorops(keep_one, "backup", "--base", "--full").returncode == 0
    second = _vectorops(keep_one, "backup", "--base", "--full")
    assert second.returncode == 0, second.stderr
    local = sorted(p.name for p in (Path(env["VECTOROPS_HOME"]) / "pitr" / "base").iterdir())
    there = sorted(p.name for p in (remote / "base").iterdir())
    assert there == local and len(there) == 1, (there, local)
    start = json.loads((remote / "base" / there[0] / RECORD).read_text())["start_wal"]
    segments = sorted(p.name for p in (remote / "wal").iterdir() if len(p.name) == 24)
    assert segments and segments[0][8:] >= start[8:], (segments[:3], start)


def test_killed_damaged_and_foreign_offsite_files(offsite: tuple[dict[str, str], Path]) -> None:
    env, remote = offsite
    assert _vectorops(env, "backup", "--base").returncode == 0
    newest = sorted((remote / "base").iterdir())[-1]
    # a copy killed midway: a base backup without its record and a WAL file under its .part name are copied again
    (newest / RECORD).unlink()
    segment = sorted(p for p in (remote / "wal").iterdir() if len(p.name) == 24)[-1]
    segment.rename(segment.with_name(segment.name + ".part"))
    again = _vectorops(env, "backup", "--offsite")
    assert again.returncode == 0, again.stderr
    assert (newest / RECORD).is_file() and segment.is_file()
    assert not list((remote / "wal").glob("*.part"))
    assert "1 base backup(s) copied" in again.stdout, again.stdout

    # a file of the same name vectorops did not write is named, and never overwritten
    target = datetime.now(UTC)
    with psycopg.connect(_dsn(env), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.foreign_probe (n int)")
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
    assert row is not None
    _archived_through_now(_dsn(env))
    foreign = remote / "wal" / str(row[0])
    foreign.write_bytes(b"not a WAL segment")
    refused = _vectorops(env, "backup", "--offsite")
    assert refused.returncode == 1 and foreign.name in refused.stderr and "not overwritten" in refused.stderr, \
        refused.stderr
    assert foreign.read_bytes() == b"not a WAL segment"
    foreign.unlink()
    assert _vectorops(env, "backup", "--offsite").returncode == 0

    # a damaged file in the newest off-site backup: the recovery passes it over for an older chain (more WAL to
    # replay), nothing of the failed attempt left running or staged
    recovered = Path(env["VECTOROPS_HOME"]) / "recovered"
    listing = json.loads((newest / LISTING).read_text())
    name = next(n for n, size in listing["files"].items() if n.startswith("data/base/") and size > 8192)
    (newest / name).write_bytes((newest / name).read_bytes()[:100])
    older = _vectorops(env, "restore", "--to-time", target.isoformat(), "--offsite")
    assert older.returncode == 0, older.stdout + older.stderr
    assert newest.name not in older.stdout.split("from base backup(s)", 1)[1].split(" and ", 1)[0], older.stdout
    data = older.stdout.split("data in ", 1)[1].split(";", 1)[0]
    assert scratch_dirs(recovered) == [Path(data).parent.name]  # only the server handed over
    assert _vectorops(env, "restore", "--stop", data).returncode == 0
    # a time before every off-site backup is refused in one line, nothing left
    early = _vectorops(env, "restore", "--to-time", "2000-01-01T00:00:00Z", "--offsite")
    assert early.returncode == 1 and "no base backup had finished by" in early.stderr, early.stderr
    assert not scratch_dirs(recovered)


def test_offsite_settings_are_checked_in_one_line(offsite: tuple[dict[str, str], Path]) -> None:
    env, _ = offsite
    home = Path(env["VECTOROPS_HOME"])
    for value, says in (("/mnt/no-scheme", "is not an object storage URL"),
                        (f"file://{home / 'pitr' / 'copy'}", "inside or above the local repository"),
                        (f"file://{home / 'verify' / 'copy'}", "inside or above VECTOROPS_HOME"),
                        (f"file://{home / 'pgdata' / 'copy'}", "inside or above VECTOROPS_HOME"),
                        ("file://relative/remote", "(three slashes)")):
        bad = _vectorops({**env, "VECTOROPS_PITR_REMOTE": value}, "backup", "--offsite")
        assert bad.returncode == 2 and "VECTOROPS_PITR_REMOTE=" in bad.stderr and says in bad.stderr, bad.stderr
    # a location holding someone else's files, or another server's copy, is never written
    elsewhere = home.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "theirs.txt").write_text("not vectorops'")
    taken = _vectorops({**env, "VECTOROPS_PITR_REMOTE": f"file://{elsewhere}"}, "backup", "--offsite")
    assert taken.returncode == 1 and "files vectorops did not write" in taken.stderr, taken.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["theirs.txt"]
    (elsewhere / "theirs.txt").unlink()
    (elsewhere / REPOSITORY).write_text(json.dumps({"system_identifier": "1"}))
    other = _vectorops({**env, "VECTOROPS_PITR_REMOTE": f"file://{elsewhere}"}, "backup", "--offsite")
    assert other.returncode == 1 and "the copy of another server" in other.stderr, other.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == [REPOSITORY]
    # a scheme whose provider is not installed is named with the provider to install, before anything is copied
    s3 = _vectorops({**env, "VECTOROPS_PITR_REMOTE": "s3://aws_default@bucket/pitr"}, "backup", "--offsite")
    assert s3.returncode == 1 and "apache-airflow-providers-amazon" in s3.stderr, s3.stderr
    assert len(s3.stderr.strip().splitlines()) <= 2, s3.stderr  # the line, and where the log is
    none = {k: v for k, v in env.items() if k != "VECTOROPS_PITR_REMOTE"}
    refused = _vectorops(none, "restore", "--to-time", datetime.now(UTC).isoformat(), "--offsite")
    assert refused.returncode == 2 and "VECTOROPS_PITR_REMOTE" in refused.stderr, refused.stderr
    skipped = _vectorops(none, "backup", "--offsite")
    assert skipped.returncode == 1 and "set VECTOROPS_PITR_REMOTE" in skipped.stderr, skipped.stderr


def test_the_offsite_dag_copies_and_a_failed_copy_alerts_once(
        offsite: tuple[dict[str, str], Path], airflow_db: dict[str, str], http_receiver: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    env, remote = offsite
    for name in ("VECTOROPS_HOME", "VECTOROPS_DB_PORT", "VECTOROPS_WAL_ARCHIVE", "VECTOROPS_ARCHIVE_TIMEOUT_S",
                 "VECTOROPS_PITR_REMOTE"):
        monkeypatch.setenv(name, env[name])
    use_webhook(monkeypatch, http_receiver.url("/offsite"))
    with psycopg.connect(_dsn(env), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.dag_probe (n int)")
    _archived_through_now(_dsn(env))
    newest = max(p.name for p in (Path(env["VECTOROPS_HOME"]) / "pitr" / "wal").iterdir() if len(p.name) == 24)

    def run() -> str:
        dag_run = load_dag("pgvector_offsite_copy").test()
        with create_session() as session:
            return str(dag_run.get_task_instances(session=session)[0].state)

    assert run() == "success"
    assert (remote / "wal" / newest).is_file()
    assert not http_receiver.posts
    # a remote it cannot write: the task fails without retrying and alerts once, naming the repository
    blocked = Path(env["VECTOROPS_HOME"]).parent / "blocked"
    blocked.write_text("a file where the repository should be")
    monkeypatch.setenv("VECTOROPS_PITR_REMOTE", f"file://{blocked}/pitr")
    assert run() == "failed"
    posts = [p.json() for p in http_receiver.posts]
    assert [p["event"] for p in posts] == ["offsite_copy_failed"], posts
    assert str(blocked) in json.dumps(posts[0]), posts[0]


def test_a_killed_recovery_is_removed_by_the_next_and_a_handed_over_one_is_kept(
        offsite: tuple[dict[str, str], Path]) -> None:
    env, _ = offsite
    recovered = Path(env["VECTOROPS_HOME"]) / "recovered"
    assert _vectorops(env, "backup", "--base").returncode == 0
    kept = _vectorops(env, "restore", "--to-time", "latest")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    kept_data = Path(kept.stdout.split("data in ", 1)[1].split(";", 1)[0])
    before = set(scratch_dirs(recovered))
    killed = subprocess.Popen([sys.executable, "-m", "vectorops.cli", "restore", "--to-time", "latest"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
                (recovered / n / "data" / "postmaster.pid").exists() for n in scratch_dirs(recovered)
                if n not in before):
            time.sleep(0.1)
    finally:
        killed.kill()
        killed.wait()
    left = [recovered / n for n in scratch_dirs(recovered) if n not in before]
    assert left, "the killed recovery left nothing to clean"
    again = _vectorops(env, "restore", "--to-time", "latest")
    assert again.returncode == 0, again.stdout + again.stderr
    assert not any(p.exists() for p in left), "the killed recovery's copy is still there"
    assert (kept_data / "postmaster.pid").exists(), "a server handed to the user was removed"
    for out in (kept, again):
        assert _vectorops(env, "restore", "--stop", out.stdout.split("data in ", 1)[1].split(";", 1)[0]).returncode == 0
