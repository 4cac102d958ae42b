"""The Chroma directory of a backup: a tar.gz snapshot, and the check that it holds a sound Chroma store."""

from __future__ import annotations

import os
import sqlite3
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from vectorops.backup.manifest import CHROMA

ARCHIVE_ROOT = "chroma"
CHROMA_SQLITE = "chroma.sqlite3"
SQLITE_SIDE_FILES = (f"{CHROMA_SQLITE}-wal", f"{CHROMA_SQLITE}-shm", f"{CHROMA_SQLITE}-journal")


def _consistent_sqlite_copy(source: Path, target: Path) -> None:
    """Copy a SQLite database with SQLite's online backup API: a consistent copy even while it is written."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    dst.close()
    src.close()


def archive_chroma(chroma_path: Path, directory: Path) -> Path:
    """Write ``directory/chroma.tar.gz`` (mode 0600) with the contents of ``chroma_path`` under ``chroma/``.

    ``chroma.sqlite3`` (records, metadata, the write-ahead log of the vectors) is copied with SQLite's backup
    API, so it is consistent; the HNSW segment files are plain file copies, which Chroma rebuilds from the
    SQLite log if they lag behind it.

    :param chroma_path: the Chroma PersistentClient directory (``CHROMA_DB_PATH``).
    :param directory: the backup directory.
    :return: the archive's path.
    :raises ValueError: naming ``chroma_path`` when it is not a Chroma directory.
    """
    if not (chroma_path / CHROMA_SQLITE).is_file():
        raise ValueError(f"CHROMA_DB_PATH={chroma_path} is not a Chroma directory: it has no {CHROMA_SQLITE}")
    target = directory / CHROMA
    partial = directory / f".{CHROMA}.partial"
    with tempfile.TemporaryDirectory(dir=directory, prefix=".chroma-sqlite-") as scratch:
        sqlite_copy = Path(scratch) / CHROMA_SQLITE
        _consistent_sqlite_copy(chroma_path / CHROMA_SQLITE, sqlite_copy)
        skipped = {CHROMA_SQLITE, *SQLITE_SIDE_FILES}
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            archive.add(sqlite_copy, arcname=f"{ARCHIVE_ROOT}/{CHROMA_SQLITE}")
            for entry in sorted(chroma_path.iterdir()):
                if entry.name not in skipped:
                    archive.add(entry, arcname=f"{ARCHIVE_ROOT}/{entry.name}")
    partial.replace(target)
    return target


def archive_problem(archive: Path) -> str | None:
    """Why ``archive`` is not a usable Chroma snapshot, or ``None``.

    It must list ``chroma/chroma.sqlite3``, and that database must pass SQLite's ``PRAGMA integrity_check``.

    :param archive: a ``chroma.tar.gz`` from :func:`archive_chroma`.
    """
    member = f"{ARCHIVE_ROOT}/{CHROMA_SQLITE}"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = {PurePosixPath(m.name) for m in tar.getmembers()}
            if PurePosixPath(member) not in names:
                return f"{archive} does not list {member}"
            with tempfile.TemporaryDirectory(prefix="vectorops-chroma-check-") as scratch:
                extracted = tar.extractfile(member)
                if extracted is None:
                    return f"{archive}: {member} is not a regular file"
                copy = Path(scratch) / CHROMA_SQLITE
                copy.write_bytes(extracted.read())
                with sqlite3.connect(copy) as check:
                    verdict = check.execute("PRAGMA integrity_check").fetchone()
                check.close()
    except (OSError, tarfile.TarError, EOFError) as exc:
        return f"{archive} is not a readable tar.gz: {exc}"
    except sqlite3.DatabaseError as exc:
        return f"{archive}: {member} is not a sound SQLite database: {exc}"
    if verdict is None or verdict[0] != "ok":
        return f"{archive}: {member} fails SQLite's integrity check: {verdict}"
    return None
