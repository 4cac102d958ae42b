"""The Chroma side of a backup: a consistent archive of a real store, and the check that catches a broken one."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np

from tests.support import add_records, chroma_client
from vectorops.backup.chroma_archive import archive_chroma, archive_problem


def test_a_real_store_archives_and_passes_the_integrity_check(tmp_path: Path) -> None:
    store = tmp_path / "chroma"
    collection = chroma_client(store).create_collection("archived")
    add_records(collection, [f"r{i}" for i in range(50)], np.ones((50, 4), dtype=np.float32))
    backup = tmp_path / "backup"
    backup.mkdir()
    archive = archive_chroma(store, backup)
    assert archive_problem(archive) is None
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "chroma/chroma.sqlite3" in names and not any(n.endswith(("-wal", "-shm")) for n in names)
    assert sorted(p.name for p in backup.iterdir()) == ["chroma.tar.gz"]  # no scratch copy left behind


def test_an_archive_with_a_damaged_sqlite_file_is_not_usable(tmp_path: Path) -> None:
    archive = tmp_path / "chroma.tar.gz"
    payload = b"SQLite format 3\x00" + b"\x07" * 4096
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("chroma/chroma.sqlite3")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    problem = archive_problem(archive)
    assert problem is not None and "chroma/chroma.sqlite3" in problem
