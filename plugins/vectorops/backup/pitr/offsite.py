"""The off-site copy of the PITR repository: the archived WAL and the verified base backups copied to object storage
(``VECTOROPS_PITR_REMOTE``, an Airflow ``ObjectStoragePath`` URL: ``s3://aws_default@bucket/pitr``, ``gs://``,
``abfs://``, or ``file:///mnt/offsite/pitr``), so that losing the server's disk does not lose the backups.

The local repository stays the spool: the server archives into it and ``pg_basebackup`` writes there, and each pass
copies what the remote lacks. A WAL file goes up under a ``.part`` name and is renamed once whole; a base backup's
files go up first, then the list of its directories and sizes (:data:`LISTING`), then its record last: a remote
backup without its record never finished copying and is copied again. Nothing already there is overwritten: a file
of the same name and another size is an error naming it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vectorops.backup.errors import BackupError
from vectorops.backup.pitr.base_backup import repository_lock
from vectorops.backup.pitr.catalog import RECORD, BaseBackup, base_backups, chains, parse_record
from vectorops.config import Settings

if TYPE_CHECKING:
    from vectorops.airflow.object_storage import ObjectStoragePath

log = logging.getLogger(__name__)

#: written into a remote base backup before its record: every directory (object stores keep no empty ones, and
#: the server needs them) and every file with its size
LISTING = "vectorops_files.json"
PART = ".part"
PARTIAL = ".partial"
#: at the remote repository's root: the system identifier of the server whose copy it is
REPOSITORY = "vectorops_repository.json"
#: the alert of a failed copy
OFFSITE_FAILED = "offsite_copy_failed"
#: the names ``basic_archive`` gives what it archives: segments, timeline histories, backup history files
_WAL_NAME = re.compile(r"^[0-9A-F]{24}(\.history|\.[0-9A-F]{8}\.backup|\.partial)?$|^[0-9A-F]{8}\.history$")
_CHUNK = 8 << 20


@dataclass(frozen=True)
class OffsiteCopy:
    """What one pass copied and expired.

    :param remote: the remote repository's URL.
    :param wal_copied: WAL files copied.
    :param base_copied: the labels of the base backups copied.
    :param bytes_copied: bytes copied in all.
    :param newest_wal: the newest WAL segment the remote holds (``None`` when it holds none).
    :param expired: the labels of the remote base backups expired (their chains are older than the kept ones).
    :param wal_removed: remote WAL files no kept backup needs, removed.
    :param seconds: how long the pass took.
    """

    remote: str
    wal_copied: int
    base_copied: tuple[str, ...]
    bytes_copied: int
    newest_wal: str | None
    expired: tuple[str, ...]
    wal_removed: int
    seconds: float


def remote_root(settings: Settings) -> ObjectStoragePath:
    """The remote repository (``VECTOROPS_PITR_REMOTE``).

    :raises BackupError: when none is set, or the URL names no storage Airflow knows.
    """
    if not settings.pitr.remote:
        raise BackupError("no off-site repository: set VECTOROPS_PITR_REMOTE to an object storage URL "
                          "(s3://<conn_id>@bucket/path, gs://..., abfs://..., file:///path)")
    from vectorops.airflow.object_storage import object_storage_path

    try:
        return object_storage_path(settings.pitr.remote)
    except ValueError as exc:
        raise BackupError(f"VECTOROPS_PITR_REMOTE: {exc}") from exc


def _private(path: ObjectStoragePath, mode: int) -> None:
    """0600 files and 0700 directories where the storage has modes (a ``file://`` repository)."""
    if path.protocol in ("file", "local"):
        os.chmod(path.path, mode)


def _mkdir(path: ObjectStoragePath) -> None:
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(parents=True, exist_ok=True)
        _private(folder, 0o700)


def _size(path: ObjectStoragePath) -> int | None:
    try:
        return int(path.stat()["size"])
    except FileNotFoundError:
        return None


def upload(local: Path, remote: ObjectStoragePath) -> int:
    """Copy ``local`` to ``remote`` and check the size that arrived.

    :return: the bytes copied.
    :raises BackupError: naming both when the remote size differs.
    """
    with local.open("rb") as source, remote.open("wb") as sink:
        while chunk := source.read(_CHUNK):
            sink.write(chunk)
    _private(remote, 0o600)
    expected, arrived = local.stat().st_size, _size(remote)
    if arrived != expected:
        raise BackupError(f"copying {local} to {remote} left {arrived} bytes of {expected}")
    return expected


def download(remote: ObjectStoragePath, local: Path, size: int | None = None) -> int:
    """Copy ``remote`` to ``local`` (0600) and check its size.

    :param size: the size it must have, when known (a listing's).
    :return: the bytes copied.
    :raises BackupError: naming the file when it is missing or its size differs.
    """
    try:
        with remote.open("rb") as source, local.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                sink.write(chunk)
    except FileNotFoundError:
        raise BackupError(f"the off-site repository lacks {remote}") from None
    local.chmod(0o600)
    got = local.stat().st_size
    if size is not None and got != size:
        raise BackupError(f"{remote} has {got} bytes, not the {size} its backup's {LISTING} lists")
    return got


def remote_backups(root: ObjectStoragePath) -> list[BaseBackup]:
    """The base backups the remote repository holds whole (with their record), oldest first; their ``directory``
    is their label (they are not on this disk)."""
    base = root / "base"
    if not base.exists():
        return []
    found = []
    for folder in base.iterdir():
        record = folder / RECORD
        if not record.exists():
            continue
        try:
            found.append(parse_record(record.read_text(encoding="utf-8"), Path(folder.name)))
        except BackupError as exc:
            log.warning("off-site base backup %s is not usable: %s", folder, exc)
    return sorted(found, key=lambda b: b.finished_at)


def copy_offsite(settings: Settings) -> OffsiteCopy:
    """Copy to the remote repository every archived WAL file and verified base backup it lacks, then expire there
    the chains beyond ``VECTOROPS_BASE_KEEP_FULL`` and the WAL no kept backup needs.

    :raises BackupError: naming the file or the setting when a copy fails (nothing remote is expired then).
    """
    with repository_lock(settings):
        return copy_offsite_locked(settings)


def copy_offsite_locked(settings: Settings, keep_full: int | None = None) -> OffsiteCopy:
    """:func:`copy_offsite`, for a caller that holds the repository's lock already.

    :param keep_full: full chains kept off-site (default ``VECTOROPS_BASE_KEEP_FULL``).
    """
    started = time.perf_counter()
    root = remote_root(settings)
    try:
        _claim(root, system_identifier(settings))
        wal_copied, wal_bytes, newest = _copy_wal(settings.pitr.wal_dir, root / "wal")
        base_copied, base_bytes = _copy_base(base_backups(settings.pitr.base_dir), root / "base")
        expired, wal_removed = _expire(root, keep_full or settings.pitr.keep_full)
    except OSError as exc:  # fsspec's storages raise theirs as OSError (permissions, missing buckets, the network)
        raise BackupError(f"the off-site copy to {root} failed: {type(exc).__name__}: {exc}") from exc
    copied = OffsiteCopy(str(root), wal_copied, base_copied, wal_bytes + base_bytes, newest, expired, wal_removed,
                         time.perf_counter() - started)
    log.info("off-site copy %s: %s WAL file(s) and %s base backup(s) copied (%.1f MB) in %.1fs; newest segment %s; "
             "%s base backup(s) and %s WAL file(s) expired", copied.remote, wal_copied, len(base_copied),
             copied.bytes_copied / 1e6, copied.seconds, newest, len(expired), wal_removed)
    return copied


def system_identifier(settings: Settings) -> str:
    """The embedded server's system identifier (``pg_controldata``): WAL and backups of another server never mix
    with its own.

    :raises BackupError: when ``pg_controldata`` cannot read the server's data directory.
    """
    from vectorops.db import runtime

    data = settings.pgdata
    if settings.external_dsn:  # its data is elsewhere: its newest base backup holds the same pg_control
        backups = base_backups(settings.pitr.base_dir)
        if not backups:
            import psycopg

            with psycopg.connect(settings.external_dsn, autocommit=True, connect_timeout=10) as conn:
                row = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
            assert row is not None
            return str(row[0])
        data = backups[-1].data
    done = runtime.run_as_server([str(runtime.bin_dir() / "pg_controldata"), "-D", str(data)])
    found = re.search(r"^Database system identifier:\s+(\d+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise BackupError(f"pg_controldata could not read the server's data {data}: {done.stdout.strip()[-500:]}")
    return found.group(1)


def _claim(root: ObjectStoragePath, system: str) -> None:
    """Make ``root`` this server's remote repository, or check that it is: a remote that holds something else, or
    another server's copy, is refused (the WAL of two servers has the same file names)."""
    marker = root / REPOSITORY
    if marker.exists():
        try:
            holds = str(json.loads(marker.read_text(encoding="utf-8"))["system_identifier"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"the off-site repository's {marker} is unreadable: {exc}") from exc
        if holds != system:
            raise BackupError(f"the off-site repository {root} holds the copy of another server (system identifier "
                              f"{holds}; this one is {system}): point VECTOROPS_PITR_REMOTE at a path of its own")
        return
    if root.exists() and any(True for _ in root.iterdir()):
        raise BackupError(f"the off-site repository {root} already holds files vectorops did not write: "
                          "vectorops never takes over a location it did not make; point VECTOROPS_PITR_REMOTE at a "
                          "new path")
    _mkdir(root)
    marker.write_text(json.dumps({"system_identifier": system}), encoding="utf-8")
    _private(marker, 0o600)


def _wal_files(wal_dir: Path) -> Iterator[Path]:
    if wal_dir.is_dir():
        yield from sorted(p for p in wal_dir.iterdir() if p.is_file() and _WAL_NAME.match(p.name))


def _copy_wal(wal_dir: Path, remote: ObjectStoragePath) -> tuple[int, int, str | None]:
    _mkdir(remote)
    there = {p.name: p for p in remote.iterdir()}
    for name in [n for n in there if n.endswith(PART)]:  # a pass killed mid-copy
        there.pop(name).unlink()
    copied = total = 0
    local_files = list(_wal_files(wal_dir))
    for local in local_files:
        size = local.stat().st_size
        # the segment pg_receivewal is receiving grows inside its fixed size: copied again on every pass
        if local.name in there and not local.name.endswith(PARTIAL):
            if _size(there[local.name]) != size:
                raise BackupError(f"the off-site repository's {there[local.name]} differs in size from the archived "
                                  f"{local}: vectorops copies whole files only, so it was written or damaged by "
                                  "something else; not overwritten (remove it to have it copied again)")
            continue
        part = remote / (local.name + PART)
        total += upload(local, part)
        part.rename(remote / local.name)
        copied += 1
    whole = {p.name for p in local_files}
    for name in [n for n in there if n.endswith(PARTIAL) and n.removesuffix(PARTIAL) in whole]:
        there[name].unlink()  # received whole since: the segment itself is there now
    names = [p.name for p in remote.iterdir() if len(p.name) == 24]
    return copied, total, max(names, default=None)


def _copy_base(backups: list[BaseBackup], remote: ObjectStoragePath) -> tuple[tuple[str, ...], int]:
    _mkdir(remote)
    copied: list[str] = []
    total = 0
    for backup in backups:
        target = remote / backup.label
        if (target / RECORD).exists():
            continue
        listing: dict[str, Any] = {"directories": [], "files": {}}
        for folder, subfolders, files in os.walk(backup.directory):
            relative = Path(folder).relative_to(backup.directory)
            listing["directories"].extend(str(relative / d) for d in sorted(subfolders))
            for name in sorted(files):
                if relative == Path(".") and name == RECORD:
                    continue
                here = Path(folder) / name
                there = target / str(relative / name)
                _mkdir(there.parent)
                listing["files"][str(relative / name)] = upload(here, there)
                total += listing["files"][str(relative / name)]
        (target / LISTING).write_text(json.dumps(listing), encoding="utf-8")
        _private(target / LISTING, 0o600)
        total += upload(backup.directory / RECORD, target / RECORD)  # last: the remote backup is now whole
        copied.append(backup.label)
        log.info("base backup %s copied off-site to %s", backup.label, target)
    return tuple(copied), total


def _expire(root: ObjectStoragePath, keep_full: int) -> tuple[tuple[str, ...], int]:
    """The remote's retention, by chain as the local one's; a copy that never finished is removed once a whole
    backup is newer."""
    backups = remote_backups(root)
    grouped = chains(backups)
    kept = [b for chain in grouped[-keep_full:] for b in chain]
    if not kept:
        return (), 0
    kept_labels = {b.label for b in kept}
    newest = max(kept_labels)
    expired = []
    for folder in (root / "base").iterdir():
        whole = folder.name in {b.label for b in backups}
        if (whole and folder.name not in kept_labels) or (not whole and folder.name < newest):
            folder.fs.rm(folder.path, recursive=True)
            expired.append(folder.name)
            log.info("off-site base backup %s expired%s", folder.name, "" if whole else " (a copy that never finished)")
    oldest = min(kept, key=lambda b: b.start_wal[8:]).start_wal[8:]  # the segment number, whatever the timeline
    removed = 0
    for wal in (root / "wal").iterdir():
        if _WAL_NAME.match(wal.name) and len(wal.name) >= 24 and not wal.name.endswith(".history") \
                and wal.name[8:24] < oldest:
            wal.unlink()
            removed += 1
    return tuple(sorted(expired)), removed
