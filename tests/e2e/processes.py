"""Stopping what an e2e test started: a process and everything in its session, re-parented grandchildren too."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.Error:
            continue
    return alive


def _group(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The process's descendants plus anything else still in its session (a re-parented grandchild)."""
    members: dict[int, psutil.Process] = {}
    try:
        members.update((p.pid, p) for p in psutil.Process(proc.pid).children(recursive=True))
    except psutil.NoSuchProcess:
        pass
    for candidate in psutil.process_iter():
        try:
            if os.getsid(candidate.pid) == proc.pid and candidate.pid != proc.pid:
                members[candidate.pid] = candidate
        except (OSError, psutil.Error):
            continue
    return list(members.values())


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop_session(proc: subprocess.Popen[bytes], log_path: Path) -> list[str]:
    """SIGTERM ``proc``'s session (it was started with ``start_new_session``), SIGKILL what is left after a minute;
    return what survived even that, one line each."""
    tracked = _group(proc)
    _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (proc.poll() is None or _alive(tracked)):
        time.sleep(0.5)
    stubborn = [*_alive(tracked), *_alive(_group(proc))]
    if proc.poll() is None or stubborn:
        with open(log_path, "a") as log:
            log.write(f"\n[e2e] SIGKILL after SIGTERM timed out: {[p.pid for p in stubborn]}\n")
        _signal_group(proc, signal.SIGKILL)
        for leftover in stubborn:
            with contextlib.suppress(psutil.Error):
                leftover.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # what still lives is reported just below
            proc.wait(timeout=15)
        psutil.wait_procs(stubborn, timeout=15)
    survivors = []
    for leftover in {p.pid: p for p in [*_alive(tracked), *_alive(_group(proc))]}.values():
        with contextlib.suppress(psutil.Error):
            survivors.append(f"{leftover.pid} {' '.join(leftover.cmdline())[:160]}")
    return survivors
