"""``vectorops db rotate-password ROLE``: a new password for one of the vectorops roles, never sent in clear.

The SCRAM-SHA-256 verifier is computed here (libpq's ``PQencryptPasswordConn``), so the server, its log and
``pg_stat_statements`` (readable by ``pg_read_all_stats`` members such as ``vectorops_maint``) only ever see the
verifier; ``pg_stat_statements.track_utility`` is switched off for the transaction as well where the user may.
A role whose password ``vectorops db up`` generated keeps ``VECTOROPS_HOME/secrets/db-roles.json`` in step, so the
local DSNs log in with the new password.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from vectorops.db.connect import connect
from vectorops.db.dsn import connection_env, env_connection_dsn
from vectorops.db.grants import untracked_utility_statements
from vectorops.db.roles import LOGIN_ROLES, local_passwords_path, read_local_passwords


class _Input(Protocol):
    """What is read of standard input: a pipe or a terminal."""

    def isatty(self) -> bool: ...

    def read(self) -> str: ...


def check_role(role: str) -> str:
    """``role`` when it is one of :data:`vectorops.db.roles.LOGIN_ROLES` (the job roles and ``vectorops_restore``).

    :raises ValueError: naming the role, for any other.
    """
    if role not in LOGIN_ROLES:
        raise ValueError(f"role {role!r} is not a vectorops role: rotate-password changes only "
                         f"{', '.join(LOGIN_ROLES)}")
    return role


def read_new_password(role: str, password_file: str | None, *, stdin: _Input | None = None,
                      ask: Callable[[str], str] | None = None) -> str:
    """The new password: from ``password_file``, else from standard input when it is not a terminal, else asked
    twice without echo.

    A single trailing line break is not part of the password (files and pipes end with one).

    :param role: the role, for the prompt and the messages.
    :param password_file: a file holding the password, or ``None``.
    :param stdin: the input stream (default ``sys.stdin``).
    :param ask: the prompt without echo (default :func:`getpass.getpass`).
    :raises ValueError: one line, when the file cannot be read, the password is empty, or the two entries differ.
    """
    stream: _Input | None = stdin if stdin is not None else sys.stdin
    if password_file is not None:  # an empty path (an unset variable) is an error, not "read stdin instead"
        try:
            text = Path(password_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"--password-file {password_file}: cannot read it ({type(exc).__name__})") from None
        source = f"--password-file {password_file}"
    elif stream is None:
        raise ValueError(f"no standard input to read the new password for {role} from: use --password-file")
    elif not stream.isatty():
        text = stream.read()
        source = "standard input"
    else:
        import getpass

        prompt = ask or getpass.getpass
        text = prompt(f"New password for {role}: ")
        if prompt(f"Repeat the new password for {role}: ") != text:
            raise ValueError(f"the two passwords entered for {role} differ; nothing was changed")
        source = "the prompt"
    password = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if not password:
        raise ValueError(f"the new password for {role} from {source} is empty; nothing was changed")
    if "\0" in password:
        raise ValueError(f"the new password for {role} from {source} contains a NUL character; nothing was changed")
    if "\n" in password or "\r" in password:  # one line, whichever way it comes (connection URIs hold no breaks)
        raise ValueError(f"the new password for {role} from {source} holds a line break; nothing was changed")
    return password


def rotate_password(dsn: str, home: Path, role: str, password: str) -> list[str]:
    """Set ``role``'s password to ``password`` as a SCRAM-SHA-256 verifier, and keep its local password in step.

    :param dsn: a DSN of the vectors database as a user that may alter the role (superuser or ``CREATEROLE``).
    :param home: ``VECTOROPS_HOME`` (the local password file).
    :param role: one of :data:`vectorops.db.roles.LOGIN_ROLES`.
    :param password: the new password.
    :return: what the operator still has to do, one line each (e.g. the connection that holds the old password).
    :raises ValueError: when the role is not a vectorops role or does not exist on the server.
    """
    check_role(role)
    staged = None
    try:
        with connect(dsn, autocommit=True) as conn:
            # serialised with `db up` (which sets passwords from the same file) and with other rotations, so the
            # file is read and replaced by one of them at a time and no rotation is undone
            conn.execute("SELECT pg_advisory_lock(hashtextextended('vectorops:bootstrap', 0))")
            local = read_local_passwords(home)
            staged = _stage_local_password(home, {**local, role: password}) if role in local else None
            with conn.transaction():
                _alter_role(conn, role, password)
            if staged is not None:
                os.replace(staged, local_passwords_path(home))  # after the commit: the file never runs ahead
                staged = None
    finally:
        if staged is not None:
            staged.unlink(missing_ok=True)
    todo = []
    configured = env_connection_dsn(role)
    if configured is not None and conninfo_to_dict(configured).get("user") == role:
        todo.append(f"{connection_env(role)} still holds the old password: put the new one there (and in any "
                    f"secrets backend), or the next `vectorops db up` sets the old one again")
    elif configured is None and role not in local:
        todo.append(f"put the new password into the Airflow connection {role!r} (or your secrets backend)")
    return todo


def _alter_role(conn: psycopg.Connection, role: str, password: str) -> None:
    """Send ``role``'s new password as a SCRAM verifier, outside ``pg_stat_statements``."""
    try:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            raise ValueError(f"role {role!r} does not exist on {conn.info.host}:{conn.info.port}; "
                             "run `vectorops db up` first")
        untracked_utility_statements(conn)
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role),
                                                                 sql.Literal(verifier.decode())))
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ValueError(f"{conn.info.user} may not change the password of {role} "
                         f"({exc.diag.message_primary}): use the superuser's DSN (VECTOROPS_DSN) or a CREATEROLE "
                         "login with ADMIN on the role") from exc


def _stage_local_password(home: Path, passwords: dict[str, str]) -> Path:
    """The local password file's new content, written 0600 next to it, to be moved into place."""
    path = local_passwords_path(home)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(passwords, out)
    return scratch
