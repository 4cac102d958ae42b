"""The least-privilege database roles vectorops works as, and their local-only generated passwords.

Each role is also the id of the Airflow connection that holds its credentials:

- ``vectorops_etl`` (``chroma_to_pgvector``): owns the ``vectorops`` schema and the vector schemas and writes them.
- ``vectorops_maint`` (``pgvector_maintenance``, ``pgvector_backup``): reads everything, has ``MAINTAIN`` on the
  vector tables (PostgreSQL 17+), writes only ``maintenance_log``, ``index_health`` and ``backups``, and may create
  the scratch databases of safe restores (``CREATEDB``); no INSERT, UPDATE or DELETE on vector tables.
- ``vectorops_monitor`` (``pgvector_search_monitor``, ``pgvector_data_quality``): ``vectorops_reader`` plus writes
  to ``search_probes``, ``search_metrics``, ``index_health``, ``validation_results`` and the registry's two
  validation columns.
- ``vectorops_reader`` (applications, the Vector Health page): reads the vector tables, the registry and its health
  records (``index_health``, ``search_metrics``, ``validation_results``, ``backups``).
- ``vectorops_restore`` (``pg_restore`` of a backup, :mod:`vectorops.backup.restore`): logs in to replay a dump, so
  that whatever a dump holds runs without privilege: no superuser, no ``CREATEROLE``/``CREATEDB``/``BYPASSRLS``,
  a member of no other role; it owns only the scratch schemas it restores. A backup's verification creates the
  same role on its own scratch server (:mod:`vectorops.backup.restore_server`).

In production the credentials come from those Airflow connections (``AIRFLOW_CONN_VECTOROPS_ETL`` ..., or a secrets
backend). Without one, ``vectorops db up`` generates a password per role and keeps it in
``VECTOROPS_HOME/secrets/db-roles.json`` (mode 0600): a local-only value, never in the repository. Stdlib only:
:mod:`vectorops.redaction` reads these passwords to hide them.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

ETL = "vectorops_etl"
MAINT = "vectorops_maint"
MONITOR = "vectorops_monitor"
READER = "vectorops_reader"
RESTORE = "vectorops_restore"
ROLES = (ETL, MAINT, MONITOR, READER)
# the job roles, and the role backups are replayed as (no job connects as it)
LOGIN_ROLES = (*ROLES, RESTORE)
PASSWORDS_FILE = "secrets/db-roles.json"


def local_passwords_path(home: Path) -> Path:
    """Where the generated role passwords live: ``<home>/secrets/db-roles.json``.

    :param home: ``VECTOROPS_HOME``.
    """
    return home / PASSWORDS_FILE


def read_local_passwords(home: Path) -> dict[str, str]:
    """The generated passwords by role; empty when none were generated (or the file is unreadable).

    :param home: ``VECTOROPS_HOME``.
    """
    try:
        document = json.loads(local_passwords_path(home).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {role: value for role, value in document.items()
            if role in LOGIN_ROLES and isinstance(value, str) and value}


def private_directory(path: Path) -> Path:
    """Create ``path`` (and its parents) if needed and make it 0700.

    :param path: a directory under ``VECTOROPS_HOME`` or a backup directory.
    :return: ``path``.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_secret_once(path: Path, content: bytes) -> bytes:
    """Write ``content`` to ``path`` (0600, its folder 0700) unless the file exists; the file's content.

    Concurrent callers agree: the file appears atomically (a hard link of a private scratch file), and the first
    writer wins.

    :param path: the secret's file.
    :param content: what to write when there is none yet.
    """
    private_directory(path.parent)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    try:
        os.link(scratch, path)
    except FileExistsError:
        pass
    finally:
        scratch.unlink(missing_ok=True)
    return path.read_bytes()


def ensure_local_passwords(home: Path) -> dict[str, str]:
    """The generated passwords of every role, generating the missing ones (the file is written 0600).

    Concurrent callers agree: the file is replaced atomically and re-read after writing.

    :param home: ``VECTOROPS_HOME``.
    """
    current = read_local_passwords(home)
    if all(role in current for role in LOGIN_ROLES):
        return current
    path = local_passwords_path(home)
    private_directory(path.parent)
    wanted = {role: current.get(role) or secrets.token_hex(24) for role in LOGIN_ROLES}
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(wanted, out)
    try:
        os.link(scratch, path)  # fails when another process wrote the file meanwhile: its passwords win
    except FileExistsError:
        if not all(role in read_local_passwords(home) for role in LOGIN_ROLES):
            os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
    return read_local_passwords(home)
