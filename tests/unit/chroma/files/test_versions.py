"""Which Chroma wrote a store, told from its migrations: the real fixture stores of every release family."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.unit.chroma.files.conftest import VERSIONS
from vectorops.chroma.files.layout import connect_readonly
from vectorops.chroma.files.versions import (
    KNOWN_MIGRATIONS,
    PYTHON,
    RELEASES,
    RUST,
    applied_migrations,
    columns,
    decode_seq_id,
    has_table,
    release_of,
    writer_of,
)
from vectorops.errors import FilesUnreadable

FAMILY = {"0.4.24": ("0.4.16–0.4.24", PYTHON), "0.5.18": ("0.5–0.6", PYTHON), "0.6.3": ("0.5–0.6", PYTHON),
          "1.0.21": ("1.0–1.2", RUST), "1.5.9": ("1.5", RUST)}


@pytest.mark.parametrize("version", VERSIONS)
def test_each_fixture_store_is_told_by_its_migrations(stores: Path, version: str) -> None:
    conn = connect_readonly(stores / f"chroma-{version}" / "store" / "chroma.sqlite3")
    try:
        newest = applied_migrations(conn)
    finally:
        conn.close()
    assert (release_of(newest), writer_of(newest)) == FAMILY[version]


def _migrations(rows: list[tuple[str, int]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE migrations (dir TEXT, version INTEGER, filename TEXT)")
    conn.executemany("INSERT INTO migrations (dir, version) VALUES (?, ?)", rows)
    return conn


def test_a_skipped_migration_is_refused() -> None:
    conn = _migrations([("sysdb", 1), ("sysdb", 3), ("metadb", 1), ("embeddings_queue", 2)])
    with pytest.raises(FilesUnreadable, match="migrations of embeddings_queue, sysdb skip a version"):
        applied_migrations(conn)


def test_the_newest_of_each_kind() -> None:
    conn = _migrations([(kind, v) for kind, newest in KNOWN_MIGRATIONS.items() for v in range(newest, 0, -1)])
    assert applied_migrations(conn) == KNOWN_MIGRATIONS == RELEASES[-1][1]


def test_a_store_between_releases() -> None:
    between = {"embeddings_queue": 2, "metadb": 4, "sysdb": 10}
    assert release_of(between) == "a Chroma release between the ones this package was checked against"
    assert writer_of(between) == PYTHON and writer_of({"metadb": 5}) == RUST and writer_of({}) == PYTHON


@pytest.mark.parametrize(("stored", "position"), [
    (5, 5), (0, 0), (2 ** 62, 2 ** 62), ((300).to_bytes(8, "big"), 300),
    (bytearray((1).to_bytes(8, "big")), 1), (memoryview((7).to_bytes(24, "big")), 7),
    ((2 ** 100).to_bytes(24, "big"), 2 ** 100)])
def test_log_positions_decode(stored: object, position: int) -> None:
    assert decode_seq_id(stored) == position


@pytest.mark.parametrize("stored", [True, b"\x00" * 7, b"\x00" * 16, "5", 5.0, None])
def test_other_log_positions_are_refused(stored: object) -> None:
    with pytest.raises(FilesUnreadable, match="neither an integer nor 8 or 24 bytes"):
        decode_seq_id(stored)


def test_columns_and_tables(stores: Path) -> None:
    old = connect_readonly(stores / "chroma-0.4.24" / "store" / "chroma.sqlite3")
    new = connect_readonly(stores / "chroma-1.5.9" / "store" / "chroma.sqlite3")
    try:
        assert "topic" in columns(old, "collections") and "topic" not in columns(new, "collections")
        assert "schema_str" in columns(new, "collections") and "schema_str" not in columns(old, "collections")
        assert columns(new, "no_such_table") == set()
        assert has_table(new, "embedding_metadata_array") and not has_table(old, "embedding_metadata_array")
    finally:
        old.close()
        new.close()
