"""The Chroma directory of a backup: a tar.gz snapshot, and the check that it holds a Chroma store."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from vectorops.backup.manifest import CHROMA

ARCHIVE_ROOT = "chroma"
CHROMA_SQLITE = "chroma.sqlite3"


def archive_chroma(chroma_path: Path, directory: Path) -> Path:
    """Write ``directory/chroma.tar.gz`` with the contents of ``chroma_path`` under ``chroma/``.

    Chroma should not be written meanwhile: the archive is a file copy, not a database snapshot.

    :param chroma_path: the Chroma PersistentClient directory (``CHROMA_DB_PATH``).
    :param directory: the backup directory.
    :return: the archive's path.
    :raises ValueError: naming ``chroma_path`` when it is not a Chroma directory.
    """
    if not (chroma_path / CHROMA_SQLITE).is_file():
        raise ValueError(f"CHROMA_DB_PATH={chroma_path} is not a Chroma directory: it has no {CHROMA_SQLITE}")
    target = directory / CHROMA
    partial = directory / f".{CHROMA}.partial"
    with tarfile.open(partial, "w:gz") as archive:
        archive.add(chroma_path, arcname=ARCHIVE_ROOT)
    partial.replace(target)
    return target


def archive_problem(archive: Path) -> str | None:
    """Why ``archive`` is not a usable Chroma snapshot, or ``None`` when it lists ``chroma/chroma.sqlite3``.

    :param archive: a ``chroma.tar.gz`` from :func:`archive_chroma`.
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = {PurePosixPath(member.name) for member in tar.getmembers()}
    except (OSError, tarfile.TarError, EOFError) as exc:
        return f"{archive} is not a readable tar.gz: {exc}"
    if PurePosixPath(ARCHIVE_ROOT, CHROMA_SQLITE) not in names:
        return f"{archive} does not list {ARCHIVE_ROOT}/{CHROMA_SQLITE}"
    return None
