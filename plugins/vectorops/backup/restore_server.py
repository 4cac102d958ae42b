"""The server a backup is verified on: a fresh scratch server of this machine, never the production server.

Started from the embedded binaries in ``VECTOROPS_HOME/verify/<time>-<token>`` on a free port of 127.0.0.1
(:func:`vectorops.db.scratch_server.fresh_server`), whatever the production server is (the embedded one or
``VECTOROPS_DSN``), and made to hold what a restore needs as production has it: the unprivileged
``vectorops_restore`` login (``schema/create_restore_role``, with a password made for this server only), and a
database lent to it with the ``vector`` extension (:func:`~vectorops.backup.scratch_database.lend_to_restore`).
The dump is replayed there as ``vectorops_restore``: whatever it runs, it runs without privilege, on a server
whose superuser could otherwise run programs as the server's system user.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from psycopg import sql
from psycopg.conninfo import make_conninfo

from vectorops.backup.scratch_database import lend_to_restore
from vectorops.config import Settings
from vectorops.db.connect import connect
from vectorops.db.grants import set_password
from vectorops.db.roles import RESTORE
from vectorops.db.scratch_server import fresh_server
from vectorops.db.sql_files import sql_text
from vectorops.redaction import remember_secret

#: under ``VECTOROPS_HOME``: the scratch servers of verifications
AREA = "verify"
DATABASE = "vectorops_verify"
#: a server thrown away after one restore: nothing it writes needs to survive a crash, none of its WAL is kept
OPTIONS = ("-c wal_level=minimal", "-c max_wal_senders=0", "-c archive_mode=off", "-c fsync=off",
           "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_wal_size=4GB", "-c max_connections=20",
           "-c dynamic_shared_memory_type=posix")


@dataclass(frozen=True)
class RestoreServer:
    """A scratch server ready for a restore.

    :param port: its port on 127.0.0.1.
    :param restore_dsn: its database as ``vectorops_restore``.
    """

    port: int
    restore_dsn: str = field(repr=False)


@contextmanager
def restore_server(settings: Settings) -> Iterator[RestoreServer]:
    """A fresh scratch server with ``vectorops_restore`` and a database lent to it; stopped and removed when the
    block ends, whatever ends it (and by the next verification when its process was killed).

    :param settings: ``VECTOROPS_HOME``, where the server's directory is made.
    :return: (yielded) the server.
    :raises vectorops.db.runtime.RuntimeErrorWithLog: when the server cannot be made or started.
    :raises vectorops.db.dsn.RestoreLoginRefused: when its restore login turns out privileged.
    """
    with fresh_server(settings.home / AREA, OPTIONS) as server:
        password = secrets.token_urlsafe(24)
        remember_secret(password)
        with connect(server.dsn(), autocommit=True, application_name="vectorops-backup-verify") as admin:
            admin.execute(sql_text("schema/create_restore_role"))
            set_password(admin, RESTORE, password)
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
            lent = lend_to_restore(admin, server.dsn(), make_conninfo(server.dsn(), user=RESTORE, password=password),
                                   DATABASE)
        yield RestoreServer(server.port, lent)
