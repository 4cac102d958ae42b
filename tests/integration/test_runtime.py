"""``vectorops db up/down/dsn`` against a fresh embedded server, and ``VECTOROPS_DSN`` for an external one."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest


def _vectorops(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vectorops.cli", *args], env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.fixture
def server_home() -> Iterator[Path]:
    """A ``VECTOROPS_HOME`` outside pytest's base temp: every pytest that starts makes ``/tmp/pytest-of-<user>``
    private again (mode 0700), which locks the embedded server's own user out of a data directory below it."""
    home = Path(tempfile.mkdtemp(prefix="vectorops-runtime-"))
    yield home / "home"
    shutil.rmtree(home, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_db_up_is_idempotent_prints_the_dsn_last_and_prepares_the_database(server_home: Path) -> None:
    env = {**os.environ, "VECTOROPS_HOME": str(server_home), "VECTOROPS_DB_PORT": str(_free_port())}
    env.pop("VECTOROPS_DSN", None)
    first = _vectorops(["db", "up"], env)
    try:
        assert first.returncode == 0, first.stderr
        dsn = first.stdout.strip().splitlines()[-1]
        assert dsn.startswith("postgresql://") and f":{env['VECTOROPS_DB_PORT']}/vectorops" in dsn
        with psycopg.connect(dsn) as conn:
            extensions = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
            assert {"vector", "pg_stat_statements", "amcheck"} <= extensions
            assert conn.execute("SELECT to_regclass('vectorops.collection_registry') IS NOT NULL").fetchone() == (True,)
            assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone() == ("0.8.6",)
            assert conn.execute("SHOW server_version").fetchone()[0].startswith("18.")
        second = _vectorops(["db", "up"], env)
        assert second.returncode == 0 and second.stdout.strip().splitlines()[-1] == dsn
        assert _vectorops(["db", "dsn"], env).stdout.strip() == dsn
        assert (server_home / "pgdata" / "PG_VERSION").exists()
    finally:
        down = _vectorops(["db", "down"], env)
    assert down.returncode == 0 and "stopped" in down.stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=3)


def test_port_in_use_is_reported_with_the_setting_name(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {**os.environ, "VECTOROPS_HOME": str(tmp_path / "home"), "VECTOROPS_DB_PORT": str(busy.getsockname()[1])}
        env.pop("VECTOROPS_DSN", None)
        result = _vectorops(["db", "up"], env)
    assert result.returncode != 0
    assert "VECTOROPS_DB_PORT" in result.stderr and "already in use" in result.stderr


def test_external_dsn_is_used_instead_of_the_embedded_server(settings: Any, dsn: str, tmp_path: Path) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS external_target")
        conn.execute("CREATE DATABASE external_target")
    external = dsn.rsplit("/", 1)[0] + "/external_target"
    env = {**os.environ, "VECTOROPS_DSN": external, "VECTOROPS_HOME": str(tmp_path / "unused")}
    result = _vectorops(["db", "up"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == external
    assert not (tmp_path / "unused" / "pgdata" / "PG_VERSION").exists()
    with psycopg.connect(external) as conn:
        assert conn.execute("SELECT to_regclass('vectorops.migration_runs') IS NOT NULL").fetchone() == (True,)
