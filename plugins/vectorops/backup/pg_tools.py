"""Running the server's own ``pg_dump`` and ``pg_restore``, with the password kept out of argv and messages.

A tool dies with the process that started it (Linux ``PR_SET_PDEATHSIG``), and its server session checks every
second that the tool is still there: a backup or verification killed half-way leaves no ``pg_dump`` writing
into a backup nobody will record, and no ``pg_restore`` keeping a scratch database in use.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops import runtime

CLIENT_CHECK = "-c client_connection_check_interval=1000"
PR_SET_PDEATHSIG = 1
# resolved before any fork: the child may call it, but must not load a library
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
if _PRCTL is not None:
    _PRCTL.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: be SIGKILLed when the parent dies (and exit if it already has)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


class PgToolError(RuntimeError):
    """``pg_dump`` or ``pg_restore`` failed; the message names the file and quotes the tool's stderr.

    :param message: the message.
    :param stderr: the tool's own error output (its tail).
    """

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


def dsn_for_database(dsn: str, database: str) -> str:
    """``dsn`` with its database replaced by ``database``.

    :param dsn: a libpq connection string or URL.
    :param database: the database to connect to instead.
    """
    return make_conninfo(dsn, dbname=database)


def redacted_dsn(dsn: str) -> str:
    """``dsn`` without its password, for logs and error messages.

    :param dsn: a libpq connection string or URL.
    """
    params = conninfo_to_dict(dsn)
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**params)  # type: ignore[arg-type]


def database_name(dsn: str) -> str:
    """The database ``dsn`` connects to (libpq's default, the user name, when none is given).

    :param dsn: a libpq connection string or URL.
    """
    params = conninfo_to_dict(dsn)
    return str(params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE") or "postgres")


def _conninfo_and_env(dsn: str) -> tuple[str, dict[str, str]]:
    """A connection string without the password, and an environment carrying it as ``PGPASSWORD``."""
    params = conninfo_to_dict(dsn)
    password = params.pop("password", None)
    params["options"] = f"{params.get('options') or ''} {CLIENT_CHECK}".strip()
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**params), env  # type: ignore[arg-type]


def run_tool(tool: str, args: list[str], dsn: str, *, what: str) -> subprocess.Popen[bytes]:
    """Start ``tool`` (``pg_dump`` | ``pg_restore``) from the server's bin directory against ``dsn``.

    :param tool: the binary's name.
    :param args: its arguments, without the connection.
    :param dsn: where it connects; the password goes through ``PGPASSWORD``, never argv.
    :param what: the file it works on, for error messages.
    :return: the running process; finish it with :func:`wait_tool`.
    """
    conninfo, env = _conninfo_and_env(dsn)
    binary = runtime.bin_dir() / tool
    if not binary.exists():
        raise PgToolError(f"{tool} not found at {binary} (needed for {what})")
    parent = os.getpid()
    return subprocess.Popen([str(binary), "--dbname", conninfo, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd="/", preexec_fn=lambda: _die_with_parent(parent))


def wait_tool(proc: subprocess.Popen[bytes], tool: str, *, what: str, dsn: str, timeout_s: float | None = None) -> None:
    """Wait for a process from :func:`run_tool`.

    :param proc: the process.
    :param tool: its name, for the message.
    :param what: the file it worked on, for the message.
    :param dsn: the DSN it used; only its redacted form appears in the message.
    :param timeout_s: seconds to wait before killing it.
    :raises PgToolError: when it exits non-zero or times out, with its stderr.
    """
    try:
        _, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise PgToolError(f"{tool} for {what} did not finish within {timeout_s}s ({redacted_dsn(dsn)})") from None
    if proc.returncode != 0:
        text = stderr.decode("utf-8", "replace").strip()
        raise PgToolError(f"{tool} for {what} failed with exit code {proc.returncode} "
                          f"({redacted_dsn(dsn)}):\n{text[-4000:]}", text[-4000:])


def restore_dump(dump: Path, dsn: str, *, timeout_s: float | None = None) -> None:
    """``pg_restore -e --single-transaction --no-owner --no-privileges`` of ``dump`` into ``dsn``.

    Nothing is left behind when it fails: the single transaction rolls back.

    :param dump: a ``pg_dump -Fc`` file.
    :param dsn: the target database.
    :param timeout_s: seconds before it is killed.
    :raises PgToolError: naming the dump, with pg_restore's stderr.
    """
    proc = run_tool("pg_restore", ["--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
                                   str(dump)], dsn, what=str(dump))
    wait_tool(proc, "pg_restore", what=str(dump), dsn=dsn, timeout_s=timeout_s)
