"""Retention of the PITR repository, by chain: the newest ``keep_full`` full backups with every backup taken on
them, and the WAL from the oldest kept backup's start on. Nothing a kept backup needs is expired."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass

from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.base_backup import repository_lock
from vectorops.backup.pitr.catalog import RECORD, base_backups, chains
from vectorops.backup.pitr.offsite import copy_offsite_locked
from vectorops.config import Settings
from vectorops.db import runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PitrRetention:
    """What one pass kept and removed.

    :param chains: the full chains kept.
    :param kept: the labels of the backups kept, oldest first.
    :param expired: the labels of the backups removed.
    :param wal_from: the oldest WAL segment kept (``None`` when no backup is kept and the archive was left alone).
    :param wal_removed: how many archived segments were removed.
    """

    chains: int
    kept: tuple[str, ...]
    expired: tuple[str, ...]
    wal_from: str | None
    wal_removed: int


def apply_retention(settings: Settings, keep_full: int) -> PitrRetention:
    """Remove the chains older than the newest ``keep_full``, then the WAL no kept backup needs
    (``pg_archivecleanup`` up to the oldest kept backup's start segment; timeline history files stay).

    A directory under ``base/`` without its record is a backup that never finished (its process was killed): it is
    removed once a verified backup is newer than it.

    With an off-site repository (``VECTOROPS_PITR_REMOTE``), everything is copied there first and the remote expired
    by the same rule (:func:`~vectorops.backup.pitr.offsite.copy_offsite`); when the copy fails, nothing local is
    expired.

    :param settings: the settings (the repository).
    :param keep_full: full backups kept, with their chains; at least 1.
    :raises BackupError: when ``keep_full`` is below 1, the off-site copy or ``pg_archivecleanup`` fails.
    """
    if keep_full < 1:
        raise BackupError(f"keeping {keep_full} full base backups would expire every backup: keep at least 1")
    with repository_lock(settings):
        return _apply(settings, keep_full)


def _apply(settings: Settings, keep_full: int) -> PitrRetention:
    if settings.pitr.remote:
        copy_offsite_locked(settings, keep_full)  # nothing is expired here before it is off-site
    base_dir = settings.pitr.base_dir
    backups = base_backups(base_dir)
    grouped = chains(backups)
    kept = [b for chain in grouped[-keep_full:] for b in chain]
    kept_labels = {b.label for b in kept}
    expired = [b for b in backups if b.label not in kept_labels]
    for backup in expired:
        shutil.rmtree(backup.directory)
        log.info("base backup %s expired (%s, finished %s): older than the newest %s full backup chain(s)",
                 backup.label, backup.kind, backup.finished_at.isoformat(), keep_full)
    newest = max((b.label for b in kept), default=None)  # labels sort by their start time
    if newest is not None and base_dir.is_dir():
        for leftover in base_dir.iterdir():
            # only directories: a symbolic link someone put there is never followed nor removed
            if (leftover.is_dir() and not leftover.is_symlink() and not (leftover / RECORD).exists()
                    and leftover.name < newest):
                shutil.rmtree(leftover)
                log.warning("removed %s: a base backup that never finished", leftover)
    if not kept:
        return PitrRetention(0, (), tuple(b.label for b in expired), None, 0)
    oldest = min(kept, key=lambda b: b.start_wal[8:])  # the segment number, whatever the timeline
    wal_dir = settings.pitr.wal_dir
    if not wal_dir.is_dir():  # an external server's receiver has not run yet
        return PitrRetention(len(grouped[-keep_full:]), tuple(b.label for b in kept),
                             tuple(b.label for b in expired), oldest.start_wal, 0)
    before = {p.name for p in wal_dir.iterdir()} if wal_dir.is_dir() else set()
    done = runtime.run_as_server([str(runtime.bin_dir() / "pg_archivecleanup"), str(wal_dir), oldest.start_wal])
    if done.returncode != 0:
        raise BackupError(f"pg_archivecleanup of {wal_dir} up to {oldest.start_wal} failed with exit code "
                          f"{done.returncode}:\n{done.stdout.strip()[-2000:]}")
    removed = len(before - {p.name for p in wal_dir.iterdir()})
    log.info("WAL archive %s: kept from %s (base backup %s), removed %s segment(s)", wal_dir, oldest.start_wal,
             oldest.label, removed)
    return PitrRetention(len(grouped[-keep_full:]), tuple(b.label for b in kept), tuple(b.label for b in expired),
                         oldest.start_wal, removed)
