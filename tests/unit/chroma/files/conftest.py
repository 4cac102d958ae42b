"""The committed fixture stores, copied once per session: the tests here never open the committed files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "stores"
VERSIONS = ("0.4.24", "0.5.18", "0.6.3", "1.0.21", "1.5.9")


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of tests/fixtures/stores; ``stores / "chroma-<version>" / "store"`` is a store."""
    copy = tmp_path_factory.mktemp("stores") / "stores"
    shutil.copytree(FIXTURES, copy, ignore=shutil.ignore_patterns("*.py", "*.md"))
    return copy
