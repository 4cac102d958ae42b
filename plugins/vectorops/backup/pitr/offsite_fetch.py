"""A point-in-time recovery from the off-site copy (:mod:`~vectorops.backup.pitr.offsite`), for when the local
repository lost what the target needs (the disk went with the server, or it is a new machine).

The chain and the WAL from its start are fetched into a private staging repository under
``VECTOROPS_HOME/recovered/``, checked again by ``pg_verifybackup`` and recovered from exactly as a local one; the
staging copy is removed once the scratch server runs (it has its own combined copy).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.catalog import DATA, RECORD, BaseBackup, chain_before, chain_of
from vectorops.backup.pitr.offsite import LISTING, download, remote_backups, remote_root
from vectorops.backup.pitr.recover import RecoveredServer, recover_latest, recover_to_time
from vectorops.config import Settings
from vectorops.db import runtime, scratch_server

log = logging.getLogger(__name__)


def _own(path: Path, owner: tuple[int, int]) -> None:
    shutil.chown(path, *owner)


def fetch_offsite(settings: Settings, chain: list[BaseBackup], staging: Path) -> int:
    """Fetch into ``staging`` (a new repository: ``base/``, ``wal/``) a remote chain and every WAL file from its
    start on.

    :param settings: the settings (``VECTOROPS_PITR_REMOTE``).
    :param chain: the chain (:func:`~vectorops.backup.pitr.catalog.chain_of` of the remote's backups).
    :param staging: an empty directory of the server's user.
    :return: the bytes fetched.
    :raises BackupError: naming what the remote lacks.
    :raises OSError: when the storage fails.
    """
    root = remote_root(settings)
    found = staging.stat()
    owner = (found.st_uid, found.st_gid)
    fetched = 0
    for backup in chain:
        remote = root / "base" / backup.label
        local = runtime.server_directory(staging / "base" / backup.label)
        listing = json.loads((remote / LISTING).read_text(encoding="utf-8"))
        for name in [*listing["directories"], *listing["files"]]:
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise BackupError(f"off-site base backup {backup.label}'s {LISTING} names {name!r}, outside the "
                                  "backup: it is not vectorops' own")
        for folder in listing["directories"]:
            (local / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
            _own(local / folder, owner)
        for name, size in listing["files"].items():
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
    return fetched


def recover_offsite(settings: Settings, target: datetime | None) -> RecoveredServer:
    """Start a scratch server holding the data as it was at ``target``, from the off-site copy alone.

    :param settings: the settings (``VECTOROPS_PITR_REMOTE``, ``VECTOROPS_HOME``, the production logins).
    :param target: the point in time (timezone-aware, not in the future); ``None``: every transaction the off-site
        copy holds (:func:`~vectorops.backup.pitr.recover.recover_latest`).
    :return: the running scratch server, as :func:`~vectorops.backup.pitr.recover.recover_to_time`'s.
    :raises BackupError: naming what is missing or damaged; nothing is left running or staged.
    """
    if target is not None and target.tzinfo is None:
        raise BackupError(f"recovery target {target.isoformat()} has no time zone: give one (2026-12-06T03:15:00Z)")
    when = target or datetime.now(UTC)
    try:
        backups = remote_backups(remote_root(settings))
    except OSError as exc:
        raise BackupError(f"reading the off-site repository {settings.pitr.remote} failed: {exc}") from exc
    chain_before(backups, when)  # one line naming the earliest when none had finished by then
    failed: list[BackupError] = []
    # the newest chain first; one whose copy is damaged is passed over for an older one (more WAL to replay)
    for newest in reversed([b for b in backups if b.finished_at < when]):
        try:
            return _recover_chain(settings, chain_of(backups, newest), target)
        except BackupError as exc:
            failed.append(exc)
            log.warning("recovering from off-site base backup %s failed (%s); trying an older one", newest.label,
                        str(exc).splitlines()[0])
    raise failed[0]


def _recover_chain(settings: Settings, chain: list[BaseBackup], target: datetime | None) -> RecoveredServer:
    clock = time.perf_counter()
    area = settings.home / "recovered"
    scratch_server.remove_abandoned(area)
    staging, claim = scratch_server.claimed_directory(area, datetime.now(UTC), "offsite-")
    try:
        try:
            fetched = fetch_offsite(settings, chain, staging)
        except (OSError, ValueError) as exc:
            raise BackupError(f"fetching off-site base backup {chain[-1].label} from {settings.pitr.remote} failed: "
                              f"{type(exc).__name__}: {exc}") from exc
        log.info("fetched base backup(s) %s and the WAL from %s off-site (%.1f MB) in %.1fs",
                 ", ".join(b.label for b in chain), chain[-1].start_wal, fetched / 1e6, time.perf_counter() - clock)
        staged = replace(settings, pitr=replace(settings.pitr, directory=staging, remote=None))
        if target is None:
            return recover_latest(staged, archive_first=False)
        return recover_to_time(staged, target, archive_first=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        os.close(claim)
