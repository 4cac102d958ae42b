"""``vectorops seed-demo`` writes only a new or a demo store: a user's store is refused before Chroma opens it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.support import chroma_client
from vectorops.cli.main import main


def _digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_demo_store_reseeds_and_a_user_store_is_refused_unwritten(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    demo = tmp_path / "demo"
    assert main(["seed-demo", str(demo), "--rows", "20"]) == 0
    assert main(["seed-demo", str(demo), "--rows", "20"]) == 0  # idempotent on its own store
    capsys.readouterr()

    user = tmp_path / "user"
    chroma_client(user).create_collection("mine").add(ids=["a"], embeddings=[[1.0, 2.0]])
    before = _digest(user)
    assert main(["seed-demo", str(user), "--rows", "20"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"vectorops: error: '{user}' is a Chroma store with collections that are not vectorops' demo "
                      "('mine'): seed-demo writes only a new or a demo store"), err
    assert _digest(user) == before  # not one byte written

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main(["seed-demo", str(tmp_path / "other")]) == 2
    assert "is a directory with other files in it" in capsys.readouterr().err
    assert main(["seed-demo", str(tmp_path / "new"), "--rows", "-5"]) == 2
    assert capsys.readouterr().err.startswith("vectorops: error: --rows -5: give a number of rows of 1 or more")
    assert not (tmp_path / "new").exists()
