"""Point vectorops at the benchmark's own home and port. Call before vectorops reads its settings.

The benchmark never touches ``.vectorops`` (the developer's platform) or an external database: it runs its
own embedded server with its data under ``bench/.cache/home`` on its own port.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from vectorops.db.runtime import port_is_free, running_port

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
CACHE_DIR = BENCH_DIR / ".cache"
HOME = CACHE_DIR / "home"
DEFAULT_PORT = 55433
_CLEARED = ("VECTOROPS_DSN", "CHROMA_DB_PATH", "VECTOROPS_OWNER_TOKEN")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def choose_port(home: Path = HOME) -> int:
    """The port for the benchmark's server.

    The port of our own server when it already runs, else ``VECTOROPS_BENCH_PORT`` (default 55433) when it
    is free, else any free port.
    """
    running = running_port(home / "pgdata")
    if running is not None:
        return running
    wanted = int(os.environ.get("VECTOROPS_BENCH_PORT") or DEFAULT_PORT)
    return wanted if port_is_free(wanted) else _free_port()


def isolate() -> dict[str, str]:
    """Set ``VECTOROPS_HOME``, ``VECTOROPS_DB_PORT`` and quiet defaults in ``os.environ``.

    Idempotent: a child process that inherits the environment keeps the same home and port.

    :return: the variables set.
    """
    HOME.mkdir(parents=True, exist_ok=True)
    for name in _CLEARED:
        os.environ.pop(name, None)
    if os.environ.get("VECTOROPS_HOME") != str(HOME) or not os.environ.get("VECTOROPS_DB_PORT"):
        os.environ["VECTOROPS_HOME"] = str(HOME)
        os.environ["VECTOROPS_DB_PORT"] = str(choose_port(HOME))
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return {name: os.environ[name] for name in ("VECTOROPS_HOME", "VECTOROPS_DB_PORT")}
