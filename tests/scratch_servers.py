"""What the tests see of the scratch servers backups are verified on, from the outside: their directories under
``VECTOROPS_HOME/verify``, their postmasters and ports, and the processes working on them (no login needed)."""

from __future__ import annotations

import re
from pathlib import Path

from vectorops.backup.restore_server import AREA
from vectorops.db import runtime


def server_directories(home: Path) -> list[Path]:
    """The scratch servers' directories under ``home`` (running or not)."""
    area = home / AREA
    return sorted(p for p in area.iterdir() if p.is_dir()) if area.is_dir() else []


def running_servers(home: Path) -> dict[int, int]:
    """``{postmaster pid: port}`` of the scratch servers running under ``home``."""
    found = {}
    for directory in server_directories(home):
        data = directory / "data"
        port = runtime.running_port(data)
        if port is not None:
            found[int((data / "postmaster.pid").read_text().split()[0])] = port
    return found


def _processes() -> list[tuple[int, int, str]]:
    """``(pid, parent pid, command line)`` of every process; a backend's command line is its process title."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(entry.name), int(stat[stat.rindex(")") + 2:].split()[1]), cmdline))
    return found


def backend_titles(postmaster: int) -> list[str]:
    """The process titles of a server's backends (``postgres: <user> <database> <client> <command>``)."""
    return [cmdline for _, parent, cmdline in _processes() if parent == postmaster]


def pg_restore_ports() -> set[int]:
    """The ports the running ``pg_restore`` processes connect to (their ``--dbname`` conninfo)."""
    ports = set()
    for _, _, cmdline in _processes():
        if cmdline.split(" ", 1)[0].endswith("/pg_restore") and (port := re.search(r"\bport=(\d+)", cmdline)):
            ports.add(int(port[1]))
    return ports
