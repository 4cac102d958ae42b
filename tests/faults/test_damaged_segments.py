"""A store whose files are damaged (a segment directory gone, a truncated ``data_level0.bin``) fails in one line
naming the store and the collection, as a source error (never retried, never "rerun to resume"), and is not
written.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import forget_collection, migrate_in_process
from vectorops.errors import SourceChanged, SourceError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stores" / "chroma-1.5.9" / "store"
SCHEMA = "damaged"


def _segment_dir(store: Path, name: str) -> Path:
    conn = sqlite3.connect(f"{(store / 'chroma.sqlite3').as_uri()}?mode=ro", uri=True)
    try:
        (segment,) = conn.execute(
            """SELECT s.id FROM segments s JOIN collections c ON c.id = s.collection
               JOIN databases d ON d.id = c.database_id
               WHERE c.name = ? AND d.tenant_id = 'default_tenant' AND s.type LIKE '%hnsw%'""", (name,)).fetchone()
    finally:
        conn.close()
    return store / segment


def _delete_segment(store: Path) -> None:
    shutil.rmtree(_segment_dir(store, "l2_docs"))


def _truncate_level0(store: Path) -> None:
    data = _segment_dir(store, "l2_docs") / "data_level0.bin"
    data.write_bytes(data.read_bytes()[:20_000])


def _hashes(store: Path) -> dict[str, str]:
    return {str(f.relative_to(store)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(store.rglob("*")) if f.is_file()}


@pytest.mark.parametrize("damage", [_delete_segment, _truncate_level0], ids=["segment-deleted", "level0-truncated"])
def test_damaged_files_fail_in_one_line_naming_the_collection(damage: Callable[[Path], None], tmp_path: Path,
                                                              settings: Any, dsn: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli import main

    store = Path(shutil.copytree(FIXTURE, tmp_path / "store"))
    damage(store)
    before = _hashes(store)

    assert main.main(["migrate", "--dry-run", "--chroma-path", str(store), "--collection", "l2_docs"]) == 2
    err = capsys.readouterr().err
    # one line naming the cause, then where its details are
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2, err
    details = err.strip().splitlines()[1]
    assert details.startswith("details: ") and Path(details.removeprefix("details: ")).is_file(), err
    err = err.strip().splitlines()[0]
    assert "'l2_docs'" in err and str(store) in err, err

    try:
        with pytest.raises(SourceError, match=r"collection 'l2_docs' of chroma\+file://") as caught:
            migrate_in_process(settings, {"chroma_path": str(store), "target_schema": SCHEMA,
                                          "collections": ["l2_docs"]}, f"damaged-{damage.__name__}")
    finally:
        forget_collection(dsn, "l2_docs", SCHEMA)
    assert not isinstance(caught.value, SourceChanged), "a damaged store is not a changed one: retrying cannot help"
    assert "\n" not in str(caught.value)
    assert _hashes(store) == before, "the damaged source was written"
