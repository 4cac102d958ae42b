"""A point-in-time recovery from the off-site copy (:mod:`~vectorops.backup.pitr.offsite`), for when the local
repository lost what the target needs (the disk went with the server, or it is a new machine).

The chain and the WAL from its start are fetched into a private staging repository under
``VECTOROPS_HOME/recovered/``, checked again by ``pg_verifybackup`` and recovered from exactly as a local one; the
staging copy is removed once the scratch server runs (it has its own combined copy).
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.catalog import DATA, RECORD, BaseBackup, chain_before
from vectorops.backup.pitr.offsite import LISTING, download, remote_backups, remote_root
from vectorops.backup.pitr.recover import RecoveredServer, recover_to_time
from vectorops.config import Settings
from vectorops.db import runtime

log = logging.getLogger(__name__)


def _own(path: Path, owner: tuple[int, int]) -> None:
    shutil.chown(path, *owner)


def fetch_offsite(settings: Settings, target: datetime, staging: Path) -> tuple[list[BaseBackup], int]:
    """Fetch into ``staging`` (a new repository: ``base/``, ``wal/``) the remote chain a recovery to ``target``
    needs and every WAL file from its start on.

    :param settings: the settings (``VECTOROPS_PITR_REMOTE``).
    :param target: the point in time (timezone-aware).
    :param staging: an empty directory of the server's user.
    :return: the chain, oldest first, and the bytes fetched.
    :raises BackupError: naming what the remote lacks.
    """
    root = remote_root(settings)
    chain = chain_before(remote_backups(root), target)
    found = staging.stat()
    owner = (found.st_uid, found.st_gid)
    fetched = 0
    for backup in chain:
        remote = root / "base" / backup.label
        local = runtime.server_directory(staging / "base" / backup.label)
        listing = json.loads((remote / LISTING).read_text(encoding="utf-8"))
        for folder in listing["directories"]:
            (local / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
            _own(local / folder, owner)
        for name, size in listing["files"].items():
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise BackupError(f"off-site base backup {backup.label}'s {LISTING} names {name!r}, outside the "
                                  "backup: it is not vectorops' own")
            fetched += download(remote / name, local / name, int(size))
            _own(local / name, owner)
        fetched += download(remote / RECORD, local / RECORD)
        _own(local / RECORD, owner)
        if not (local / DATA / "backup_manifest").is_file():
            raise BackupError(f"off-site base backup {backup.label} holds no {DATA}/backup_manifest")
    wal = runtime.server_directory(staging / "wal")
    start = chain[-1].start_wal[8:]  # replay starts at the newest backup's start, whatever the timeline
    for remote_wal in (root / "wal").iterdir():
        name = remote_wal.name
        if name.endswith(".history") or (len(name) >= 24 and name[8:24] >= start and not name.endswith(".part")):
            fetched += download(remote_wal, wal / name)
            _own(wal / name, owner)
    return chain, fetched


def recover_offsite(settings: Settings, target: datetime) -> RecoveredServer:
    """Start a scratch server holding the data as it was at ``target``, from the off-site copy alone.

    :param settings: the settings (``VECTOROPS_PITR_REMOTE``, ``VECTOROPS_HOME``, the production logins).
    :param target: the point in time (timezone-aware, not in the future).
    :return: the running scratch server, as :func:`~vectorops.backup.pitr.recover.recover_to_time`'s.
    :raises BackupError: naming what is missing or damaged; nothing is left running or staged.
    """
    if target.tzinfo is None:
        raise BackupError(f"recovery target {target.isoformat()} has no time zone: give one (2026-12-06T03:15:00Z)")
    clock = time.perf_counter()
    runtime.server_directory(settings.home / "recovered")
    staging = runtime.server_directory(
        settings.home / "recovered" / f"offsite-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}")
    try:
        try:
            chain, fetched = fetch_offsite(settings, target, staging)
        except OSError as exc:
            raise BackupError(f"fetching from the off-site repository {settings.pitr.remote} failed: {exc}") from exc
        log.info("fetched base backup(s) %s and the WAL from %s off-site (%.1f MB) in %.1fs",
                 ", ".join(b.label for b in chain), chain[-1].start_wal, fetched / 1e6, time.perf_counter() - clock)
        staged = replace(settings, pitr=replace(settings.pitr, directory=staging, remote=None))
        return recover_to_time(staged, target, archive_first=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
