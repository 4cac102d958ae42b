"""A ``chroma run`` server of vectorops' own: the ``chroma`` console script installed beside this Python, on
127.0.0.1 and a free port, serving a directory the caller owns; started, waited for, restarted and stopped.

Used where a comparison needs a real Chroma server (``vectorops compare``, the concurrency benchmark). The server
writes to its directory: give it a private one, never a source store. Its output goes to ``server.log`` beside
the directory, so that a server that does not come up is explained by the last lines of that log.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from vectorops.errors import SourceError

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def chroma_executable() -> Path:
    """The ``chroma`` console script of this environment (beside ``sys.executable``, else on ``PATH``).

    :raises SourceError: when chromadb's command is not installed.
    """
    beside = Path(sys.executable).with_name("chroma")
    if beside.is_file():
        return beside
    found = shutil.which("chroma")
    if found is None:
        raise SourceError("the `chroma` command of chromadb is not installed beside this Python nor on PATH")
    return Path(found)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ChromaServerProcess:
    """``chroma run --path <path>`` on 127.0.0.1; a context manager that stops it on exit.

    :param path: the directory the server serves (created by Chroma when missing); it is written to.
    :param start_timeout_s: how long a start may take before it counts as failed (loading a large collection's
        index is part of it).
    """

    def __init__(self, path: Path, start_timeout_s: float = START_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.start_timeout_s = start_timeout_s
        self.log_path = self.path.parent / f"{self.path.name}.server.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> int:
        """Start the server on a new free port and wait until its heartbeat answers.

        :return: the port.
        :raises SourceError: when the server exits or does not answer within ``start_timeout_s``.
        """
        if self.running:
            return self.port
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(chroma_executable()), "run", "--path", str(self.path), "--host", HOST, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/v2/heartbeat", timeout=2):
                    return self.port
            except OSError:
                if not self.running or time.monotonic() > deadline:
                    code = self._proc.poll()
                    self.stop()
                    raise SourceError(f"`chroma run` on {self.path} did not come up within {self.start_timeout_s:g} "
                                      f"s (exit code {code}); its log {self.log_path} ends:\n{self._log_tail()}"
                                      ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``) and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart(self) -> int:
        """Stop and start again (on a new port: clients of the old one must not reuse its connections).

        Chroma reads a collection's HNSW settings when it loads the index, so a changed ``ef_search`` takes
        effect only in a new server process.

        :return: the new port.
        """
        self.stop()
        return self.start()

    def __enter__(self) -> ChromaServerProcess:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
