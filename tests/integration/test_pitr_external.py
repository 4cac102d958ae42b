"""Point-in-time recovery of an external server (``VECTOROPS_DSN``): base backups over a replication connection, its
WAL streamed by ``pg_receivewal`` through a replication slot vectorops creates and records, and a recovery to a
noted time that holds exactly the rows as of then, including those only in the segment still being received.

The "external" server is an embedded server of this module's own (PostgreSQL 18, ``wal_level=replica``), reached
only through its DSN from another ``VECTOROPS_HOME``, as a user's managed server would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.pitr_servers import archiving_server, free_port
from tests.pitr_servers import server_dsn as _dsn
from tests.pitr_servers import vectorops as _vectorops
from vectorops.backup.pitr.catalog import base_backups
from vectorops.backup.pitr.offsite import REPOSITORY


@pytest.fixture(scope="module")
def external() -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """The external server's own environment, and the environment of a vectorops that reaches it by DSN."""
    with archiving_server("vectorops-external-", archive_timeout_s=60) as (root, server):
        yield server, {**server, "VECTOROPS_HOME": str(root / "client"), "VECTOROPS_DSN": _dsn(server),
                       "VECTOROPS_DB_PORT": str(free_port())}


def _rows(dsn: str) -> dict[int, str]:
    with psycopg.connect(dsn) as conn:
        return {int(r[0]): str(r[1]) for r in conn.execute("SELECT id, md5(t::text) FROM public.ext_rows t")}


def _slots(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [str(r[0]) for r in conn.execute("SELECT slot_name FROM pg_replication_slots ORDER BY 1")]


@pytest.mark.slow  # a base backup, 25 s of streaming under writes and a recovery: about 45 s on 2 cores
def test_an_external_server_recovers_to_a_time_from_its_base_backup_and_streamed_wal(
        external: tuple[dict[str, str], dict[str, str]]) -> None:
    _, client = external
    dsn = client["VECTOROPS_DSN"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.ext_rows (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO public.ext_rows SELECT g, 'first' FROM generate_series(1, 300) g")
    base = _vectorops(client, "backup", "--base")
    assert base.returncode == 0, base.stdout + base.stderr
    assert "(full)" in base.stdout, base.stdout
    assert base_backups(Path(client["VECTOROPS_HOME"]) / "pitr" / "base"), "the backup is in the client's repository"
    # the slot was made before the backup and keeps its WAL: writes in segments closed before any receiver runs
    # are still recovered
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT restart_lsn IS NOT NULL FROM pg_replication_slots "
                            "WHERE slot_name LIKE 'vectorops\\_pitr\\_%'").fetchall() == [(True,)]
        conn.execute("INSERT INTO public.ext_rows SELECT g, 'early' FROM generate_series(1001, 1050) g")
        conn.execute("SELECT pg_switch_wal()")
        conn.execute("INSERT INTO public.ext_rows SELECT g, 'early' FROM generate_series(1051, 1100) g")
        conn.execute("SELECT pg_switch_wal()")

    receiver = subprocess.Popen([sys.executable, "-m", "vectorops.cli", "backup", "--receive-wal", "25"], env=client,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4.0)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO public.ext_rows SELECT g, 'second' FROM generate_series(301, 400) g")
            conn.execute("UPDATE public.ext_rows SET note = 'changed before T' WHERE id <= 20")
        time.sleep(1.0)
        target = datetime.now(UTC)
        expected = _rows(dsn)
        time.sleep(1.0)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM public.ext_rows WHERE id > 350")
            conn.execute("UPDATE public.ext_rows SET note = 'after T' WHERE id <= 10")
        out, err = receiver.communicate(timeout=120)
    finally:
        if receiver.poll() is None:
            receiver.kill()
    assert receiver.returncode == 0, out + err
    assert "through replication slot vectorops_pitr_" in out, out
    slot = out.split("replication slot ", 1)[1].split(":", 1)[0]
    assert slot in _slots(dsn)
    wal = Path(client["VECTOROPS_HOME"]) / "pitr" / "wal"
    assert any(p.name.endswith(".partial") for p in wal.iterdir()), sorted(p.name for p in wal.iterdir())

    restored = _vectorops(client, "restore", "--to-time", target.isoformat())
    assert restored.returncode == 0, restored.stdout + restored.stderr
    scratch = restored.stdout.strip().splitlines()[-1]
    port = conninfo_to_dict(dsn)["port"]
    assert str(conninfo_to_dict(scratch)["port"]) != str(port), "the recovery runs off the external server"
    assert _rows(scratch) == expected
    data = restored.stdout.split("data in ", 1)[1].split(";", 1)[0]
    assert _vectorops(client, "restore", "--stop", data).returncode == 0
    # `latest`: every transaction the archive holds, the last one included (what a lost server can still give back)
    latest = _vectorops(client, "restore", "--to-time", "latest")
    assert latest.returncode == 0, latest.stdout + latest.stderr
    assert "the end of the archive (its last transaction committed at" in latest.stdout, latest.stdout
    assert _rows(latest.stdout.strip().splitlines()[-1]) == _rows(dsn)
    data = latest.stdout.split("data in ", 1)[1].split(";", 1)[0]
    assert _vectorops(client, "restore", "--stop", data).returncode == 0

    # the off-site copy of an external server's repository is claimed with that server's identity
    remote = Path(client["VECTOROPS_HOME"]).parent / "remote"
    copied = _vectorops({**client, "VECTOROPS_PITR_REMOTE": f"file://{remote}"}, "backup", "--offsite")
    assert copied.returncode == 0, copied.stdout + copied.stderr
    with psycopg.connect(dsn) as conn:
        system = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
    assert system is not None
    assert json.loads((remote / REPOSITORY).read_text())["system_identifier"] == str(system[0])
    # every segment from the base backup on, and the one being received as far as it got (copied on each pass);
    # older ones no kept backup needs are not kept off-site
    start = base_backups(Path(client["VECTOROPS_HOME"]) / "pitr" / "base")[0].start_wal
    assert {p.name for p in wal.iterdir() if p.name[8:24] >= start[8:]} <= {p.name for p in (remote / "wal").iterdir()}

    # Vector Health shows the stream: the slot, no receiver on it now, the WAL the server keeps for it
    from vectorops.web.queries import Target
    from vectorops.web.recovery_panel import recovery_section
    from vectorops.web.recovery_status import recovery_health

    health = recovery_health(Target(dsn, "127.0.0.1", str(port)), max_age_h=26.0)
    streams = health["archive"]["streams"]
    assert [(s["slot_name"], s["active"]) for s in streams] == [(slot, False)], streams
    assert streams[0]["retained_bytes"] >= 0
    assert f"through slot {slot}: no receiver now" in recovery_section(health)

    # the slot vectorops created is dropped on request, and only that one
    dropped = _vectorops(client, "backup", "--drop-wal-slot")
    assert dropped.returncode == 0 and slot in dropped.stdout, dropped.stdout + dropped.stderr
    assert slot not in _slots(dsn)


def test_a_killed_receivers_pg_receivewal_is_stopped_by_the_next_run(
        external: tuple[dict[str, str], dict[str, str]]) -> None:
    """A receiver killed with SIGKILL runs no ``finally``: its ``pg_receivewal`` goes on, holding the slot. Made
    here as that run leaves it: ``pg_receivewal`` on the slot, its PID in the repository, no parent."""
    from vectorops.backup.pitr.replication_slot import ensure_slot
    from vectorops.backup.pitr.server_login import server_conninfo, server_env
    from vectorops.config import load_settings
    from vectorops.db import runtime

    _, client = external
    saved = dict(os.environ)
    try:
        os.environ.update(client)
        settings = load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    slot = ensure_slot(settings)
    wal = runtime.server_directory(settings.pitr.wal_dir)
    orphan = subprocess.Popen([str(runtime.bin_dir() / "pg_receivewal"), "--dbname", server_conninfo(settings),
                               "--slot", slot, "--directory", str(wal), "--no-loop", "--no-password"],
                              env=server_env(settings), user=runtime.SERVER_USER if os.geteuid() == 0 else None,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        (settings.pitr.directory / "receiver.pid").write_text(f"{orphan.pid}\n")
        time.sleep(1.0)
        assert orphan.poll() is None, "pg_receivewal did not start"
        again = _vectorops(client, "backup", "--receive-wal", "2")
        assert again.returncode == 0, again.stdout + again.stderr
        assert orphan.wait(timeout=10) is not None  # stopped by the run, which then streamed on the slot itself
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_a_slot_of_that_name_vectorops_did_not_create_is_never_used(
        external: tuple[dict[str, str], dict[str, str]]) -> None:
    _, client = external
    dsn = client["VECTOROPS_DSN"]
    other = {**client, "VECTOROPS_PITR_DIR": str(Path(client["VECTOROPS_HOME"]) / "other-pitr")}
    from vectorops.backup.pitr.replication_slot import slot_name
    from vectorops.config import load_settings

    saved = dict(os.environ)
    try:
        os.environ.update(other)
        name = slot_name(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_create_physical_replication_slot(%s)", (name,))
    try:
        refused = _vectorops(other, "backup", "--receive-wal", "2")
        assert refused.returncode == 1 and name in refused.stderr and "did not create" in refused.stderr, \
            refused.stderr
        nothing = _vectorops(other, "backup", "--drop-wal-slot")
        assert nothing.returncode == 0 and "nothing dropped" in nothing.stdout, nothing.stdout
        assert name in _slots(dsn)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (name,))


def test_a_role_that_may_not_replicate_is_named_with_the_grant_it_needs(
        external: tuple[dict[str, str], dict[str, str]]) -> None:
    _, client = external
    dsn = client["VECTOROPS_DSN"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS ext_reader")
        conn.execute("CREATE ROLE ext_reader LOGIN PASSWORD 'reader-pw'")
    params = conninfo_to_dict(dsn)
    params.update(user="ext_reader", password="reader-pw")
    reader = {**client, "VECTOROPS_DSN": make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})}
    for args in (("backup", "--base"), ("backup", "--receive-wal", "2")):
        refused = _vectorops(reader, *args)
        assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
        assert "ext_reader" in refused.stderr and "ALTER ROLE ext_reader REPLICATION" in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    embedded = _vectorops(external[0], "backup", "--receive-wal", "2")
    assert embedded.returncode == 1 and "archives its own WAL" in embedded.stderr, embedded.stderr
