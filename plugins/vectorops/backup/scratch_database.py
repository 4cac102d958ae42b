"""The scratch database a dump is replayed into as ``vectorops_restore`` and compared with its manifest.

A safe restore (:mod:`vectorops.backup.restore`) makes one on its target's server, cloned from
``vectorops_restore_template`` and always dropped; a backup's verification makes one on a scratch server of its own
(:mod:`vectorops.backup.restore_server`). Either way the database is lent to ``vectorops_restore`` (CONNECT,
CREATE) with the ``vector`` extension in it, and the restore login is checked before any dump is replayed with it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from vectorops.backup import pg_tools
from vectorops.db.connect import connect
from vectorops.db.dsn import check_restore_login
from vectorops.db.roles import RESTORE
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "vectorops_verify_"
RESTORE_TEMPLATE = "vectorops_restore_template"


def lend_to_restore(admin: psycopg.Connection, dsn: str, restore_dsn: str, database: str) -> str:
    """Lend ``database`` to ``vectorops_restore`` (CONNECT, CREATE), with the ``vector`` extension in it, and check
    that the restore login is the unprivileged ``vectorops_restore`` before any dump is replayed with it.

    :param admin: an autocommit connection to the server, as the database's owner.
    :param dsn: a DSN of the server as a user that may create the extension in ``database`` (or finds it there).
    :param restore_dsn: a DSN of ``vectorops_restore`` on the same server.
    :param database: the database.
    :return: the DSN of ``database`` as ``vectorops_restore``.
    :raises vectorops.db.dsn.RestoreLoginRefused: when that login is privileged.
    """
    admin.execute(sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(sql.Identifier(database),
                                                                              sql.Identifier(RESTORE)))
    with connect(pg_tools.dsn_for_database(dsn, database), autocommit=True) as conn:
        conn.execute(sql_text("schema/create_extensions"))
    lent = pg_tools.dsn_for_database(restore_dsn, database)
    with connect(lent, autocommit=True) as mine:
        check_restore_login(mine)
    return lent


@contextmanager
def scratch_database(dsn: str, restore_dsn: str) -> Iterator[str]:
    """A new database cloned from ``vectorops_restore_template``, lent to ``vectorops_restore``; always dropped.

    :param dsn: a DSN of the server, as a user that may create databases (the database is its own).
    :param restore_dsn: a DSN of ``vectorops_restore`` on the same server.
    :return: (yielded) the scratch database's DSN as ``vectorops_restore``.
    """
    scratch = f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:16]}"
    name = sql.Identifier(scratch)
    with connect(dsn, autocommit=True, application_name="vectorops-backup-verify") as admin:
        drop_abandoned_scratch_databases(admin)
        # vectorops_maint may not create the (untrusted) vector extension: it clones the template that has it
        template = one_value(admin.execute("SELECT coalesce(max(datname), 'template0') FROM pg_database "
                                           "WHERE datname = %s AND datistemplate", (RESTORE_TEMPLATE,)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(name, sql.Identifier(template)))
        try:
            yield lend_to_restore(admin, dsn, restore_dsn, scratch)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def drop_abandoned_scratch_databases(admin: psycopg.Connection) -> list[str]:
    """Drop the scratch databases of restores that were killed before their own cleanup (and those that backup
    verifications left on the production server before they moved to a scratch server).

    Only databases nobody is connected to are dropped, and without ``FORCE``: one that a running restore connects
    to meanwhile stays (the drop fails and is logged).

    :param admin: an autocommit connection to the server.
    :return: the databases dropped.
    """
    dropped = []
    for (name,) in admin.execute(sql_text("backup/select_abandoned_scratch_databases"),
                                 {"prefix": SCRATCH_PREFIX.replace("_", r"\_") + "%"}).fetchall():
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        except psycopg.errors.ObjectInUse:
            log.info("scratch database %s came into use; left alone", name)
            continue
        log.warning("dropped scratch database %s, left by a restore that was interrupted", name)
        dropped.append(name)
    return dropped
