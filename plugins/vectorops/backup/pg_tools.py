"""Running the server's own ``pg_dump`` and ``pg_restore``, with the password kept out of argv and messages.

Files the tools write are created 0600 (their umask is 077). A tool dies with the process that started it (Linux
``PR_SET_PDEATHSIG``), and its server session checks every second that the tool is still there: a backup or
verification killed half-way leaves no ``pg_dump`` writing into a backup nobody will record, and no ``pg_restore``
keeping a scratch database in use.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops.db import runtime
from vectorops.errors import VectoropsError

CLIENT_CHECK = "-c client_connection_check_interval=1000"
PR_SET_PDEATHSIG = 1
# resolved before any fork: the child may call it, but must not load a library
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
if _PRCTL is not None:
    _PRCTL.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: be SIGKILLed when the parent dies (and exit if it already has); files it
    creates (a dump) are private, 0600."""
    os.umask(0o077)
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


class PgToolError(VectoropsError, RuntimeError):
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
    """Start ``tool`` (``pg_dump`` | ``pg_restore`` | ``pg_dumpall``) from the server's bin directory against ``dsn``.

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


def name_pattern(*names: str) -> str:
    """A pg_dump name pattern matching exactly ``names`` (quoted, so case and pattern characters are literal).

    :param names: a schema, or a schema and a table.
    """
    return ".".join('"' + name.replace('"', '""') + '"' for name in names)


def restore_dump(dump: Path, dsn: str, *, timeout_s: float | None = None, use_list: Path | None = None) -> None:
    """``pg_restore -e --single-transaction --no-owner --no-privileges`` of ``dump`` into ``dsn``.

    Nothing is left behind when it fails: the single transaction rolls back.

    :param dump: a ``pg_dump -Fc`` file.
    :param dsn: the target database.
    :param timeout_s: seconds before it is killed.
    :param use_list: restore only the entries of this table of contents (:func:`write_toc_without_schemas`).
    :raises PgToolError: naming the dump, with pg_restore's stderr.
    """
    selection = [f"--use-list={use_list}"] if use_list else []
    proc = run_tool("pg_restore", ["--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
                                   *selection, str(dump)], dsn, what=str(dump))
    wait_tool(proc, "pg_restore", what=str(dump), dsn=dsn, timeout_s=timeout_s)


def dump_schemas(dsn: str, schemas: list[str], dump: Path) -> None:
    """``pg_dump -Fc`` of exactly ``schemas`` of ``dsn`` into ``dump`` (created 0600).

    :param dsn: the database, as a role that may read every object of the schemas.
    :param schemas: the schemas.
    :param dump: the file to write.
    :raises PgToolError: naming the dump, with pg_dump's stderr.
    """
    proc = run_tool("pg_dump", ["--format=custom", "--strict-names", *[f"--schema={name_pattern(s)}" for s in schemas],
                                f"--file={dump}"], dsn, what=str(dump))
    wait_tool(proc, "pg_dump", what=str(dump), dsn=dsn)


def dump_roles(dsn: str, path: Path) -> Path:
    """``pg_dumpall --roles-only --no-role-passwords`` into ``path`` (0600): the roles, their attributes and
    memberships, without passwords (a restored platform sets them again: ``vectorops db up``).

    :param dsn: a database of the server, as any role (the roles are read from ``pg_roles``).
    :param path: the file to write.
    :raises PgToolError: naming the file, with pg_dumpall's stderr.
    """
    proc = run_tool("pg_dumpall", ["--roles-only", "--no-role-passwords", f"--file={path}"], dsn, what=str(path))
    wait_tool(proc, "pg_dumpall", what=str(path), dsn=dsn)
    return path


_SCHEMA_ENTRY = re.compile(r"^\d+; \d+ \d+ SCHEMA - ")


def write_toc_without_schemas(dump: Path, toc: Path) -> Path:
    """Write the table of contents of ``dump`` without its ``CREATE SCHEMA`` entries into ``toc``.

    Restoring with it fills schemas that exist already (created beforehand, owned by the restoring role).

    :param dump: a ``pg_dump -Fc`` file.
    :param toc: the list file to write.
    :return: ``toc``.
    :raises PgToolError: naming the dump when pg_restore cannot list it.
    """
    binary = runtime.bin_dir() / "pg_restore"
    done = subprocess.run([str(binary), "--list", str(dump)], capture_output=True, check=False, cwd="/")
    if done.returncode != 0:
        text = done.stderr.decode("utf-8", "replace").strip()[-4000:]
        raise PgToolError(f"pg_restore --list of {dump} failed with exit code {done.returncode}:\n{text}", text)
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    toc.write_text("".join(f";{line}\n" if _SCHEMA_ENTRY.match(line) else f"{line}\n" for line in lines),
                   encoding="utf-8")
    return toc
