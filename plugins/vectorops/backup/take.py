"""Take one backup: its directory, the consistent dump with its checks, the Chroma archive and the manifest."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vectorops.backup import ledger
from vectorops.backup.chroma_archive import archive_chroma
from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import DUMP, ROLES, Manifest, file_entry, sha256_file, write_manifest
from vectorops.backup.pg_tools import dump_roles
from vectorops.backup.signing import SIGNATURE, ensure_key, sign_manifest
from vectorops.backup.snapshot import take_snapshot
from vectorops.config import Settings
from vectorops.db.roles import private_directory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TakenBackup:
    """A backup on disk, recorded as ``verifying``.

    :param backup_id: its id.
    :param directory: its directory.
    :param manifest_path: its ``manifest.json``.
    :param manifest: the manifest.
    :param manifest_sha256: the manifest file's sha256, as recorded.
    """

    backup_id: str
    directory: Path
    manifest_path: Path
    manifest: Manifest
    manifest_sha256: str


def new_backup_id(now: datetime | None = None) -> str:
    """A backup id that sorts by time: ``20260102T020000Z-1a2b3c``.

    :param now: the time to use (default: now, UTC).
    """
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def signed_backups(dsn: str) -> list[str]:
    """The recorded backups (not expired) whose directory holds a signature: they need the current key.

    :param dsn: the vectors database.
    """
    return [row.backup_id for row in ledger.list_backups(dsn)
            if row.status != "expired" and (Path(row.path) / SIGNATURE).is_file()]


def take_backup(settings: Settings, dsn: str, *, run_id: str | None = None, new_key: bool = False) -> TakenBackup:
    """Dump, check, dump the roles (without passwords), archive Chroma (when ``CHROMA_DB_PATH`` is set) and write the
    manifest of a new backup.

    The row in ``vectorops.backups`` is ``running`` meanwhile and ``verifying`` after; ``failed`` when this raises.
    Rows of backups whose process was killed half-way are closed as ``failed`` first. The backup directory (and the
    backup root) are 0700 and every file 0600; the manifest is signed with the key under ``VECTOROPS_HOME``
    (:mod:`vectorops.backup.signing`), created on first use.

    :param settings: the settings (backup directory, Chroma path).
    :param dsn: the vectors database.
    :param run_id: the run taking it, recorded in the row's details.
    :param new_key: start a new signing key although recorded backups were signed with the missing one.
    :raises BackupError: naming the backup id and directory, with the cause; or naming the signing key when it is
        missing while signed backups need it, or not private (:func:`vectorops.backup.signing.ensure_key`).
    """
    for closed in ledger.close_interrupted(dsn):
        log.warning("backup %s was interrupted half-way (its process died); marked failed, it never counted", closed)
    key = ensure_key(settings.home, signed_backups=signed_backups(dsn), new_key=new_key)
    backup_id = new_backup_id()
    private_directory(settings.backup.directory)
    directory = settings.backup.directory / backup_id
    directory.mkdir(mode=0o700)
    directory.chmod(0o700)
    with ledger.owned(dsn, backup_id):
        ledger.insert_running(dsn, backup_id, str(directory), run_id)
        try:
            manifest = take_snapshot(dsn, directory, backup_id)
            files = [directory / DUMP, dump_roles(dsn, directory / ROLES)]
            if settings.chroma_path:
                manifest.chroma_path = str(Path(settings.chroma_path).expanduser().resolve())
                files.append(archive_chroma(Path(manifest.chroma_path), directory))
            manifest.files = {entry.name: entry for entry in map(file_entry, files)}
            manifest_path = write_manifest(manifest, directory)
            sign_manifest(manifest_path, key)
            manifest_sha256 = sha256_file(manifest_path)
            ledger.record_files(dsn, manifest, manifest_sha256)
        except Exception as exc:
            message = f"backup {backup_id} into {directory} failed: {exc}"
            ledger.set_status(dsn, backup_id, "failed", error=message)
            raise BackupError(message) from exc
    log.info("backup %s taken into %s: %s file(s), %s vector table(s), %s rows", backup_id, directory,
             len(manifest.files), len(manifest.vector_tables), manifest.total_rows)
    return TakenBackup(backup_id, directory, manifest_path, manifest, manifest_sha256)
