"""The base backups a repository holds, read from their own directories, and the chain a recovery restores."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import write_private

log = logging.getLogger(__name__)

#: written beside a base backup's ``data/`` once ``pg_verifybackup`` passed: its presence makes the backup usable
#: (outside ``data/``, which holds exactly what ``pg_basebackup`` wrote: ``pg_verifybackup`` refuses any other file)
RECORD = "vectorops_base.json"
DATA = "data"

Kind = Literal["full", "incremental"]


@dataclass(frozen=True)
class BaseBackup:
    """One verified base backup.

    :param label: its directory's name, which sorts by time (``20261206T031500Z-1a2b3c``).
    :param kind: ``full``, or ``incremental`` on ``parent``.
    :param parent: the backup an incremental one was taken on (``None`` for a full one).
    :param started_at: when ``pg_basebackup`` started.
    :param finished_at: when it had finished: the server is consistent from this backup at any later time.
    :param start_lsn: the WAL position the backup starts at.
    :param start_wal: the WAL segment file it starts in: recovery from it needs that one and every later one.
    :param timeline: the server's timeline then.
    :param size_bytes: the bytes of its directory.
    :param directory: where it is: ``data/`` (the server's files) and :data:`RECORD`.
    :param note: why it is full although an incremental one was due (a gap in the WAL summaries, a damaged or
        broken chain), when it is.
    """

    label: str
    kind: Kind
    parent: str | None
    started_at: datetime
    finished_at: datetime
    start_lsn: str
    start_wal: str
    timeline: int
    size_bytes: int
    directory: Path
    note: str | None = None

    @property
    def data(self) -> Path:
        """The backup's files, as ``pg_basebackup`` wrote them."""
        return self.directory / DATA

    def write_record(self) -> None:
        """Write :data:`RECORD` (0600) into the backup's directory."""
        fields: dict[str, Any] = {k: v for k, v in asdict(self).items() if k != "directory"}
        fields["started_at"] = self.started_at.isoformat()
        fields["finished_at"] = self.finished_at.isoformat()
        write_private(self.directory / RECORD, json.dumps(fields, indent=2).encode())


def parse_record(text: str, directory: Path) -> BaseBackup:
    """A base backup from its :data:`RECORD`'s text.

    :param text: the record.
    :param directory: where the backup is (for a remote copy, its label).
    :raises BackupError: naming the directory when the record is unreadable.
    """
    try:
        fields = json.loads(text)
        return BaseBackup(label=str(fields["label"]), kind=fields["kind"], parent=fields["parent"],
                          started_at=datetime.fromisoformat(fields["started_at"]),
                          finished_at=datetime.fromisoformat(fields["finished_at"]),
                          start_lsn=str(fields["start_lsn"]), start_wal=str(fields["start_wal"]),
                          timeline=int(fields["timeline"]),
                          size_bytes=int(fields["size_bytes"]), directory=directory, note=fields.get("note"))
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"base backup {directory}: its {RECORD} is unreadable: {exc}") from exc


def _read(directory: Path) -> BaseBackup:
    try:
        text = (directory / RECORD).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise BackupError(f"base backup {directory}: its {RECORD} is unreadable: {exc}") from exc
    return parse_record(text, directory)


def base_backups(base_dir: Path) -> list[BaseBackup]:
    """The verified base backups under ``base_dir``, oldest first.

    A directory without :data:`RECORD` is a backup that never finished or failed verification; it is named in a
    warning, never used.

    :param base_dir: the repository's ``base/``.
    A directory whose record is unreadable is named in a warning too and left out.
    """
    if not base_dir.is_dir():
        return []
    found = []
    for directory in sorted(p for p in base_dir.iterdir() if p.is_dir() and not p.is_symlink()):
        if not (directory / RECORD).is_file():
            log.warning("base backup %s is not usable: it never finished or failed pg_verifybackup", directory)
            continue
        try:
            found.append(_read(directory))
        except BackupError as exc:  # one damaged record must not stop every backup and recovery
            log.warning("base backup %s is not usable: %s", directory, exc)
    return sorted(found, key=lambda b: b.finished_at)


def chain_of(backups: list[BaseBackup], newest: BaseBackup) -> list[BaseBackup]:
    """``newest`` and the backups it was taken on, back to its full backup, oldest first (what
    ``pg_combinebackup`` takes).

    :raises BackupError: naming the backup whose parent is missing.
    """
    by_label = {b.label: b for b in backups}
    chain = [newest]
    while chain[-1].parent is not None:
        parent = by_label.get(chain[-1].parent)
        if parent is None:
            raise BackupError(f"base backup {chain[-1].label} was taken on {chain[-1].parent}, which the repository "
                              f"no longer holds: it cannot be restored")
        if parent in chain or parent.finished_at >= chain[-1].finished_at:
            raise BackupError(f"base backup {chain[-1].label}'s record names {parent.label} as the backup it was "
                              "taken on, which is not older than it: the record is damaged")
        chain.append(parent)
    return chain[::-1]


def chains(backups: list[BaseBackup]) -> list[list[BaseBackup]]:
    """``backups`` grouped by the full backup they were taken on (directly or not), oldest chain first; a backup
    whose chain lost its full backup is in none (it cannot be restored).

    :param backups: :func:`base_backups`' list.
    """
    grouped: dict[str, list[BaseBackup]] = {}
    for backup in backups:
        try:
            root = chain_of(backups, backup)[0]
        except BackupError:
            continue
        if root.kind == "full":
            grouped.setdefault(root.label, []).append(backup)
    return sorted(grouped.values(), key=lambda chain: chain[0].finished_at)


def chain_before(backups: list[BaseBackup], target: datetime) -> list[BaseBackup]:
    """The chain of the newest backup that had finished before ``target``: recovery replays the WAL from its end.

    :raises BackupError: when no backup had finished by then, naming the earliest one.
    """
    usable = [b for b in backups if b.finished_at < target]
    if not usable:
        earliest = f"the earliest finished at {backups[0].finished_at.isoformat()}" if backups else "there are none"
        raise BackupError(f"no base backup had finished by {target.isoformat()} ({earliest}): "
                          "a point in time can only be recovered after a base backup")
    broken: BackupError | None = None
    for newest in reversed(usable):  # a broken chain is passed over for an older intact one, with a warning
        try:
            chain = chain_of(backups, newest)
        except BackupError as exc:
            broken = broken or exc
            continue
        if broken is not None:
            log.warning("%s; recovering from the older chain of %s instead (more WAL to replay)", broken,
                        chain[-1].label)
        return chain
    assert broken is not None
    raise broken
