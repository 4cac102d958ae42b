"""The WAL of an external server (``VECTOROPS_DSN``), streamed into the repository's ``wal/`` by ``pg_receivewal``
through a replication slot, where the embedded server's own ``archive_command`` would put it.

The slot (``vectorops_pitr_<hash of the repository>``) makes the server keep what was not received yet, so the
receiver may stop between runs without a gap; it is created and recorded by
:mod:`~vectorops.backup.pitr.replication_slot`. The segment being received is
``<segment>.partial``, flushed as it arrives (``--synchronous``): a recovery reads it as the segment itself.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import write_private
from vectorops.backup.pitr.base_backup import check_archiving
from vectorops.backup.pitr.catalog import base_backups
from vectorops.backup.pitr.replication_slot import drop_receiver_slot, ensure_slot, slot_name
from vectorops.backup.pitr.server_login import server_conninfo, server_env
from vectorops.config import Settings
from vectorops.db import runtime

log = logging.getLogger(__name__)

#: the PID of the running ``pg_receivewal``, in the repository: a later run stops one a killed run left behind
PID_FILE = "receiver.pid"
#: how long ``pg_receivewal`` may take to flush and exit once asked to stop
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Received:
    """One run of the receiver.

    :param slot: the replication slot it streamed from.
    :param seconds: how long it streamed.
    :param segments: whole segments received in the run.
    :param newest: the newest file of the archive then (a ``.partial`` one while a segment is being received).
    """

    slot: str
    seconds: float
    segments: int
    newest: str | None


def _segments(wal: Path) -> set[str]:
    return {p.name for p in wal.iterdir() if len(p.name) == 24}


def wal_gaps(wal: Path, since: str) -> list[str]:
    """The segments of ``since``'s timeline missing from ``since`` to the newest one the archive holds (whole or
    ``.partial``): a recovery cannot replay past the first.

    :param wal: the repository's ``wal/``.
    :param since: a segment (the newest base backup's start): older ones, and other timelines, are not looked at.
    """
    timeline, first = since[:8], int(since[8:16], 16) * 0x100 + int(since[16:24], 16)
    numbers = set()
    for path in wal.iterdir():
        name = path.name.removesuffix(".partial")
        if len(name) == 24 and name.startswith(timeline) and all(c in "0123456789ABCDEF" for c in name):
            numbers.add(int(name[8:16], 16) * 0x100 + int(name[16:24], 16))
    newest = max((n for n in numbers if n >= first), default=first)
    return [f"{timeline}{n // 0x100:08X}{n % 0x100:08X}" for n in range(first, newest) if n not in numbers]


def _receiver_lock(settings: Settings) -> Any:
    """The receiver's lock, taken: one receiver at a time (the kernel frees it when its holder dies).

    :raises BackupError: when a receiver holds it.
    """
    import fasteners

    runtime.server_directory(settings.pitr.directory)
    path = settings.pitr.directory / ".receiver.lock"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    lock = fasteners.InterProcessLock(str(path))
    if not lock.acquire(blocking=False):
        raise BackupError(f"a WAL receiver streams into {settings.pitr.wal_dir} now: one at a time (it stops by "
                          "itself when its time is up)")
    return lock


def stop_and_drop_slot(settings: Settings) -> str | None:
    """Drop the slot the receiver created (:func:`~vectorops.backup.pitr.replication_slot.drop_receiver_slot`),
    first stopping a ``pg_receivewal`` that a killed receiver left on it.

    :raises BackupError: when a receiver runs now.
    """
    lock = _receiver_lock(settings)
    try:
        stop_orphan(settings)
        return drop_receiver_slot(settings)
    finally:
        lock.release()


def _terminate_as_exit() -> Any:
    """In the main thread, make SIGTERM end the process through ``finally`` blocks (``SystemExit``), so that the
    receiver's ``pg_receivewal`` is stopped with it; the previous handler, to put back (``None`` elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminated(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, terminated)


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie, exited and not yet reaped by its parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_orphan(settings: Settings) -> int | None:
    """Stop the ``pg_receivewal`` a killed receiver left running (its PID is in :data:`PID_FILE`, and it is still
    ``pg_receivewal`` on this repository's slot): asked to stop, then killed. Call it holding the receiver's lock.

    :return: its PID, when there was one.
    """
    path = settings.pitr.directory / PID_FILE
    try:
        pid = int(path.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if not command or not command[0].endswith(b"pg_receivewal") or slot_name(settings).encode() not in command:
        return None
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    log.warning("stopped pg_receivewal (PID %s), left running by a WAL receiver that was killed", pid)
    return pid


def receive_wal(settings: Settings, seconds: float) -> Received:
    """Stream the external server's WAL into the repository for ``seconds``, then stop ``pg_receivewal`` cleanly.

    :param settings: the settings (``VECTOROPS_DSN``, the repository).
    :param seconds: how long to stream.
    :return: what the run received.
    :raises BackupError: when the server is not external or cannot be streamed from (naming why), another receiver
        runs, or ``pg_receivewal`` fails (with its own words).
    """
    if not settings.external_dsn:
        raise BackupError("the embedded server archives its own WAL (archive_command): pg_receivewal streams an "
                          "external server's (VECTOROPS_DSN)")
    check_archiving(settings)
    runtime.server_directory(settings.pitr.directory)
    wal = runtime.server_directory(settings.pitr.wal_dir)
    lock = _receiver_lock(settings)
    previous = _terminate_as_exit()
    try:
        stop_orphan(settings)
        slot = ensure_slot(settings)
        before = _segments(wal)
        args = [str(runtime.bin_dir() / "pg_receivewal"), "--dbname", server_conninfo(settings), "--slot", slot,
                "--directory", str(wal), "--synchronous", "--no-loop", "--no-password"]
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out:
            user = runtime.SERVER_USER if os.geteuid() == 0 else None
            proc = subprocess.Popen(args, env=server_env(settings), user=user, stdout=out,
                                    stderr=subprocess.STDOUT, text=True, cwd="/")
            write_private(settings.pitr.directory / PID_FILE, f"{proc.pid}\n".encode())
            try:
                code = proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:  # the normal end of a run: asked to stop, it flushes and exits 0
                proc.send_signal(signal.SIGINT)
                code = proc.wait(timeout=STOP_TIMEOUT_S)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            out.seek(0)
            said = out.read().strip()
        if code != 0:
            raise BackupError(f"pg_receivewal from the external server stopped with exit code {code}: "
                              f"{said[-1500:]}")
        backups = base_backups(settings.pitr.base_dir)
        gaps = wal_gaps(wal, backups[-1].start_wal) if backups else []
        if gaps:
            raise BackupError(f"the streamed WAL in {wal} has a gap ({', '.join(gaps[:3])}"
                              f"{' ...' if len(gaps) > 3 else ''} missing): no time after it can be recovered from the "
                              "base backups before it; take a full base backup (`vectorops backup --base --full`)")
        files = sorted(p.name for p in wal.iterdir())
        received = Received(slot, time.perf_counter() - started, len(_segments(wal) - before),
                            files[-1] if files else None)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        lock.release()
    log.info("received %s whole WAL segment(s) from the external server in %.0fs through slot %s; newest %s",
             received.segments, received.seconds, slot, received.newest)
    return received
