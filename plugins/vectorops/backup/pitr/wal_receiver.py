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
import time
from dataclasses import dataclass
from pathlib import Path

from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.base_backup import check_archiving
from vectorops.backup.pitr.replication_slot import ensure_slot
from vectorops.backup.pitr.server_login import server_conninfo, server_env
from vectorops.config import Settings
from vectorops.db import runtime

log = logging.getLogger(__name__)

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


def receive_wal(settings: Settings, seconds: float) -> Received:
    """Stream the external server's WAL into the repository for ``seconds``, then stop ``pg_receivewal`` cleanly.

    :param settings: the settings (``VECTOROPS_DSN``, the repository).
    :param seconds: how long to stream.
    :return: what the run received.
    :raises BackupError: when the server is not external or cannot be streamed from (naming why), another receiver
        runs, or ``pg_receivewal`` fails (with its own words).
    """
    import fasteners

    if not settings.external_dsn:
        raise BackupError("the embedded server archives its own WAL (archive_command): pg_receivewal streams an "
                          "external server's (VECTOROPS_DSN)")
    check_archiving(settings)
    runtime.server_directory(settings.pitr.directory)
    wal = runtime.server_directory(settings.pitr.wal_dir)
    lock_path = settings.pitr.directory / ".receiver.lock"
    os.close(os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600))
    lock = fasteners.InterProcessLock(str(lock_path))
    if not lock.acquire(blocking=False):
        raise BackupError(f"another WAL receiver streams into {wal}: one at a time")
    try:
        slot = ensure_slot(settings)
        before = _segments(wal)
        args = [str(runtime.bin_dir() / "pg_receivewal"), "--dbname", server_conninfo(settings), "--slot", slot,
                "--directory", str(wal), "--synchronous", "--no-loop", "--no-password"]
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out:
            user = runtime.SERVER_USER if os.geteuid() == 0 else None
            proc = subprocess.Popen(args, env=server_env(settings), user=user, stdout=out,
                                    stderr=subprocess.STDOUT, text=True, cwd="/")
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
        files = sorted(p.name for p in wal.iterdir())
        received = Received(slot, time.perf_counter() - started, len(_segments(wal) - before),
                            files[-1] if files else None)
    finally:
        lock.release()
    log.info("received %s whole WAL segment(s) from the external server in %.0fs through slot %s; newest %s",
             received.segments, received.seconds, slot, received.newest)
    return received
