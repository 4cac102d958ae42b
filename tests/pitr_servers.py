"""Servers of a PITR test module's own: an embedded server that archives its WAL, in a directory outside pytest's
base temp (which pytest makes private again, locking the server's user out), stopped and removed afterwards with
every scratch server a recovery started under its home."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vectorops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``vectorops *args`` in its own process with ``env``; output captured."""
    return subprocess.run([sys.executable, "-m", "vectorops.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def server_dsn(env: dict[str, str]) -> str:
    """The DSN ``vectorops db dsn`` prints for ``env``'s server."""
    done = vectorops(env, "db", "dsn")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def archiving_server(prefix: str, archive_timeout_s: int = 2, **extra: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """An embedded server archiving its WAL (a segment closed every ``archive_timeout_s`` at the latest).

    :param prefix: the temporary directory's prefix.
    :param extra: more environment (``VECTOROPS_PITR_REMOTE`` ...).
    :return: (yielded) the directory its home is in, and its environment (``VECTOROPS_HOME`` is ``<root>/home``).
    """
    root = Path(tempfile.mkdtemp(prefix=prefix))
    env = {**os.environ, "VECTOROPS_HOME": str(root / "home"), "VECTOROPS_DB_PORT": str(free_port()),
           "VECTOROPS_WAL_ARCHIVE": "on", "VECTOROPS_ARCHIVE_TIMEOUT_S": str(archive_timeout_s), **extra}
    env.pop("VECTOROPS_DSN", None)
    try:
        up = vectorops(env, "db", "up")
        assert up.returncode == 0, up.stderr
        yield root, env
    finally:
        for home in sorted(root.glob("*/recovered")):
            for data in home.glob("*/data"):
                vectorops({**env, "VECTOROPS_HOME": str(home.parent)}, "restore", "--stop", str(data))
        vectorops(env, "db", "down")
        shutil.rmtree(root, ignore_errors=True)


def scratch_dirs(area: Path) -> list[str]:
    """The scratch directories under ``area`` (``VECTOROPS_HOME/recovered``), its lock file left out."""
    return sorted(p.name for p in area.iterdir() if not p.name.startswith(".")) if area.is_dir() else []
