"""Throwaway PostgreSQL servers from the embedded binaries, on this machine: a private directory under
``VECTOROPS_HOME``, 127.0.0.1 on a free port, no Unix socket; stopped immediately and removed when done.

Two kinds use it: a server recovered from the base backups (:mod:`vectorops.backup.pitr.recover`; it may outlive
the process that started it, ``vectorops restore --to-time``), and a fresh, empty one (:func:`fresh_server`, on
which a backup is verified) that never outlives its process: it is removed when the block ends, whatever ends it,
and the next :func:`fresh_server` removes the ones a killed process left.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from psycopg.conninfo import make_conninfo

from vectorops.db import runtime
from vectorops.redaction import remember_secret

log = logging.getLogger(__name__)

SERVER_LOG = "server.log"
#: the lock of an area's directory: held while a fresh server's directory is made and claimed, and while the
#: directories of killed processes are looked for
AREA_LOCK = ".lock"


@dataclass(frozen=True)
class ScratchServer:
    """A running fresh server (:func:`fresh_server`).

    :param data: its data directory.
    :param port: its port on 127.0.0.1.
    :param user: its superuser.
    :param password: that superuser's password, made for this server only.
    """

    data: Path
    port: int
    user: str
    password: str = field(repr=False)

    def dsn(self, database: str = "postgres") -> str:
        """A DSN of ``database`` on this server, as its superuser.

        :param database: the database.
        """
        return make_conninfo(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                             dbname=database)


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_directory(area: Path, when: datetime, prefix: str = "") -> Path:
    """A new private directory ``<area>/<prefix><when>-<token>`` of the server's user
    (:func:`runtime.server_directory`).

    :param area: the folder of one kind of scratch server, e.g. ``VECTOROPS_HOME/recovered``.
    :param when: the time its name carries (UTC).
    :param prefix: what it holds, when not a server (``offsite-``, ``dump-``).
    """
    runtime.server_directory(area)
    return runtime.server_directory(
        area / f"{prefix}{when.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}")


def listen_options(port: int) -> list[str]:
    """The server options of a scratch server's connections: 127.0.0.1 on ``port`` only, no Unix socket.

    :param port: the port.
    """
    return ["-c listen_addresses=127.0.0.1", f"-c port={port}", "-c unix_socket_directories=''"]


def start(data: Path, options: Sequence[str], *, log_file: Path,
          timeout_s: int = 60) -> subprocess.CompletedProcess[str]:
    """``pg_ctl start`` of the server in ``data`` with ``options``, waiting until it accepts connections.

    :param data: its data directory.
    :param options: its ``-c`` options (:func:`listen_options` among them).
    :param log_file: where it logs.
    :param timeout_s: how long ``pg_ctl`` waits for it.
    :return: ``pg_ctl``'s outcome; a non-zero ``returncode`` when it did not start.
    """
    return runtime.run_as_server([str(runtime.bin_dir() / "pg_ctl"), "-D", str(data), "-w", "-t", str(timeout_s),
                                  "-l", str(log_file), "-o", " ".join(options), "start"])


def log_tail(log_file: Path, lines: int = 15) -> str:
    """The last ``lines`` of a server's log, for messages.

    :param log_file: the log.
    """
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def stop(data: Path) -> bool:
    """Stop the scratch server in ``data`` immediately (it is thrown away: no shutdown checkpoint).

    :param data: its data directory.
    :return: ``True`` when one was running.
    """
    if runtime.running_port(data) is None:
        return False
    runtime.run_as_server([str(runtime.bin_dir() / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-m", "immediate",
                           "stop"])
    return True


def remove(data: Path) -> bool:
    """Stop the scratch server in ``data`` and remove its directory (``data``'s parent, ``<area>/<time>-<token>``).

    An immediate stop returns when the postmaster has gone; its children may still be writing a file or two for a
    moment, so the removal is tried again until the directory is gone (a warning names it if it never goes).

    :param data: its data directory.
    :return: ``True`` when a server was running.
    """
    stopped = stop(data)
    scratch = data.parent
    for _ in range(50):
        shutil.rmtree(scratch, ignore_errors=True)
        if not scratch.exists():
            break
        time.sleep(0.2)
    else:
        log.warning("could not remove the scratch server's directory %s", scratch)
    return stopped


@contextmanager
def _area_locked(area: Path) -> Iterator[None]:
    runtime.server_directory(area)
    fd = os.open(area / AREA_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _claim(directory: Path) -> int | None:
    """An open descriptor of ``directory`` holding its lock, or ``None`` when another process holds it.

    The lock is ``flock``'s: the kernel drops it when its holder dies, however it dies.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


#: the names :func:`new_directory` gives (with a prefix naming what it holds): nothing else in an area is touched
_SCRATCH_NAME = re.compile(r"^([a-z]+-)?\d{8}T\d{6}Z-[0-9a-f]{6}$")
#: written into a scratch directory whose server was handed to the user: never removed as abandoned
HANDED = "handed_over"


def claimed_directory(area: Path, when: datetime, prefix: str = "") -> tuple[Path, int]:
    """A new scratch directory of ``area`` (:func:`new_directory`), held by this process until it closes the
    descriptor: while held, :func:`remove_abandoned` leaves it alone; once its holder is gone (however it died), it
    is removed, unless it was handed over (:func:`hand_over`).

    :return: the directory and the descriptor holding it.
    """
    with _area_locked(area):
        directory = new_directory(area, when, prefix)
        claim = _claim(directory)
    if claim is None:  # not reachable: the directory is new, and made under the area's lock
        raise runtime.RuntimeErrorWithLog(f"scratch directory {directory} is held by another process")
    return directory, claim


def hand_over(directory: Path, claim: int) -> None:
    """Mark ``directory``'s server as the user's (it runs on after this process: `restore --stop` removes it) and
    release the claim."""
    (directory / HANDED).touch(mode=0o600)
    os.close(claim)


def reclaim(directory: Path) -> int:
    """Take back a directory handed over (:func:`hand_over`) for a server this process removes itself (a drill's, a
    restore's): from now on a kill of this process leaves it to :func:`remove_abandoned`.

    :return: the descriptor holding it (close it after removing the directory).
    """
    claim = _claim(directory)
    if claim is None:
        raise runtime.RuntimeErrorWithLog(f"scratch directory {directory} is held by another process")
    (directory / HANDED).unlink(missing_ok=True)
    return claim


def remove_abandoned(area: Path) -> list[Path]:
    """Stop and remove the scratch servers and directories of ``area`` whose process died before removing them
    (killed, or its machine lost power); one whose process still runs, one handed over to the user
    (:func:`hand_over`) and anything not named as vectorops names them are left alone.

    :param area: the folder of the scratch servers, as given to :func:`fresh_server` or :func:`claimed_directory`.
    :return: the directories removed.
    """
    if not area.is_dir():
        return []
    removed = []
    with _area_locked(area):
        for directory in sorted(area.iterdir()):
            if (not _SCRATCH_NAME.match(directory.name) or not directory.is_dir() or directory.is_symlink()
                    or (directory / HANDED).exists()):
                continue
            fd = _claim(directory)
            if fd is None:
                continue
            try:
                remove(directory / "data")
            finally:
                os.close(fd)
            log.warning("removed the scratch server %s, left by a process that was killed", directory)
            removed.append(directory)
    return removed


@contextmanager
def fresh_server(area: Path, options: Sequence[str] = (), *, user: str = "postgres") -> Iterator[ScratchServer]:
    """A new, empty server in ``<area>/<time>-<token>/data``, started on a free port of 127.0.0.1; stopped and
    removed when the block ends, whatever ends it (an exception, ``KeyboardInterrupt``). The process holds a lock
    on the directory while it runs, so that the next :func:`fresh_server` of ``area`` removes what a killed
    process left (:func:`remove_abandoned`).

    :param area: the folder of this kind of server, under ``VECTOROPS_HOME``.
    :param options: more ``-c`` options of the server.
    :param user: the name of its superuser (its password is made for this server only).
    :return: (yielded) the running server.
    :raises RuntimeErrorWithLog: naming the directory and port when the server cannot be made or started, with
        the tool's output or the server log's tail.
    """
    remove_abandoned(area)
    with _area_locked(area):
        scratch = new_directory(area, datetime.now(UTC))
        claim = _claim(scratch)
    data = scratch / "data"
    try:
        if claim is None:  # not reachable: the directory is new, and made under the area's lock
            raise runtime.RuntimeErrorWithLog(f"scratch server directory {scratch} is held by another process")
        password = secrets.token_urlsafe(24)
        remember_secret(password)
        runtime.initdb(data, user, password, sync=False)
        port = free_port()
        started = start(data, [*listen_options(port), *options], log_file=data / SERVER_LOG)
        if started.returncode != 0:
            raise runtime.RuntimeErrorWithLog(f"scratch server in {data} did not start on 127.0.0.1:{port}:\n"
                                              f"{started.stdout.strip()}\n{log_tail(data / SERVER_LOG)}")
        yield ScratchServer(data, port, user, password)
    finally:
        remove(data)
        if claim is not None:
            os.close(claim)
