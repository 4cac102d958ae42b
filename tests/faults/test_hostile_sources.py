"""Broken Chroma sources fail at once with an error naming the path and what is wrong, and write nothing.

Nothing on the PostgreSQL side (no schema, run, claim, registry or quarantine row), and nothing in the source:
Chroma's own client would create a store in a directory that holds none and upgrade an older store in place.
Each case runs with the files reader and with Chroma's API (``VECTOROPS_CHROMA_READER``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import chroma_client, migrate_command, migrate_in_process, platform_snapshot
from vectorops import chroma_source, chroma_store
from vectorops.chroma_source import SourceError, SourceSpec

COLLECTION = "docs"
SCHEMA = "hostile_sources"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A healthy store that each case copies and breaks."""
    path = tmp_path_factory.mktemp("hostile-source-template")
    collection = chroma_client(path).create_collection(
        COLLECTION, configuration={"hnsw": {"space": "l2", "sync_threshold": 4, "batch_size": 4}})
    collection.add(ids=[f"r{i}" for i in range(8)], embeddings=np.eye(8, 3, dtype=np.float32),
                   documents=[f"doc {i}" for i in range(8)], metadatas=[{"i": i} for i in range(8)])
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"


def _files(path: Path) -> dict[str, str]:
    """Every file under ``path`` (or ``path`` itself) with its SHA-256."""
    if path.is_file():
        return {path.name: _sha256(path)}
    return {str(p.relative_to(path)): _sha256(p) for p in sorted(path.rglob("*"))} if path.exists() else {}


def _content(path: Path) -> list[str]:
    """The SQL dump of a store but for ``acquire_write``, where Chroma's client records each time it opens it."""
    conn = sqlite3.connect(f"{(path / 'chroma.sqlite3').as_uri()}?mode=ro", uri=True)
    try:
        return [line for line in conn.iterdump() if "acquire_write" not in line]
    finally:
        conn.close()


def _sql(statements: str) -> Callable[[Path], Path]:
    def mutate(store: Path) -> Path:
        conn = sqlite3.connect(store / "chroma.sqlite3")
        conn.executescript(statements)
        conn.close()
        return store
    return mutate


def _schema_of_another_version(store: Path) -> Path:
    conn = sqlite3.connect(store / "chroma.sqlite3")
    schema = json.loads(conn.execute("SELECT schema_str FROM collections").fetchone()[0])
    schema["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["hnsw"]["quantization"] = "int8"
    conn.execute("UPDATE collections SET schema_str = ?", (json.dumps(schema),))
    conn.commit()
    conn.close()
    return store


def _overwrite(data: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def mutate(store: Path) -> Path:
        target = store / "chroma.sqlite3"
        target.write_bytes(data(target.read_bytes()))
        return store
    return mutate


def _damage_table_page(store: Path) -> Path:
    """Overwrite the root page of ``embedding_metadata``, which only a full check reads before the load."""
    target = store / "chroma.sqlite3"
    conn = sqlite3.connect(target)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'embedding_metadata'").fetchone()[0]
    conn.close()
    raw = bytearray(target.read_bytes())
    start = (root - 1) * page_size
    raw[start:start + page_size] = np.random.default_rng(5).integers(0, 256, page_size, dtype=np.uint8).tobytes()
    target.write_bytes(bytes(raw))
    return store


def _other_sqlite(store: Path) -> Path:
    (store / "chroma.sqlite3").unlink()
    conn = sqlite3.connect(store / "chroma.sqlite3")
    conn.execute("CREATE TABLE notes (body text)")
    conn.commit()
    conn.close()
    return store


def _replace(store: Path, make: Callable[[Path], object]) -> Path:
    shutil.rmtree(store)
    make(store)
    return store


def _random_files(store: Path) -> Path:
    shutil.rmtree(store)
    (store / "sub").mkdir(parents=True)
    (store / "notes.txt").write_text("not a store")
    (store / "data.bin").write_bytes(os.urandom(4096))
    return store


NEWER = """INSERT INTO migrations VALUES ('sysdb', 11, '00011-collection-quantization.sqlite.sql',
                                        'ALTER TABLE collections ADD COLUMN quantization TEXT;', 'feedface');
           ALTER TABLE collections ADD COLUMN quantization TEXT;"""
OLDER = """DELETE FROM migrations WHERE (dir = 'sysdb' AND version = 10) OR (dir = 'metadb' AND version = 6);
           ALTER TABLE collections DROP COLUMN schema_str;
           DROP TABLE embedding_metadata_array;"""

#: the one case only Chroma's client can find out: the client opens the store (and records that it did)
OPENED_BY_CHROMA = "config-of-another-version"
#: case → (how to make it from a copy of the template, what the error must say)
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing-path": (lambda store: _replace(store, lambda _: None), "does not exist"),
    "empty-dir": (lambda store: _replace(store, Path.mkdir), r"has no chroma.sqlite3 \(it is empty\)"),
    "random-files": (_random_files, r"has no chroma.sqlite3 \(it holds data.bin, notes.txt, sub\)"),
    "a-file": (lambda store: _replace(store, lambda p: p.write_text("x")), "is a file, not a Chroma store directory"),
    "the-sqlite-file": (lambda store: store / "chroma.sqlite3", "give the directory that holds it"),
    "empty-sqlite": (_overwrite(lambda raw: b""), r"chroma.sqlite3 is empty \(0 bytes\)"),
    "garbage-sqlite": (_overwrite(lambda raw: os.urandom(len(raw))), "not an SQLite database"),
    "truncated-sqlite": (_overwrite(lambda raw: raw[:len(raw) // 2]), "truncated chroma.sqlite3"),
    "damaged-page": (_damage_table_page, "corrupt chroma.sqlite3"),
    "other-sqlite": (_other_sqlite, "has no migrations table"),
    "newer-chroma": (_sql(NEWER), r"written by a newer Chroma .*sysdb 11 \(00011-collection-quantization"),
    "older-chroma": (_sql(OLDER), "written by an older Chroma .*lacks migration.*metadb 6, sysdb 10.*upgrade a copy"),
    "config-of-another-version": (_schema_of_another_version,
                                  rf"collection\(s\) 'docs' in .* cannot be read by chromadb "
                                  rf"{chroma_store.chromadb_version()}"),
}


@pytest.fixture(params=["files", "api"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(chroma_source.READER_ENV, request.param)
    return str(request.param)


def _refused(settings: Any, dsn: str, source: Path, message: str, opened_by_chroma: bool = False) -> None:
    """A migration of ``source`` fails before any work with ``message`` and the path, and writes nothing."""
    before, files = platform_snapshot(dsn), _files(source)
    content = _content(source) if opened_by_chroma else None
    with pytest.raises(SourceError, match=message) as caught:
        migrate_in_process(settings, {"chroma_path": str(source), "target_schema": SCHEMA}, "hostile-source")
    assert str(source) in str(caught.value)
    assert platform_snapshot(dsn) == before
    assert SCHEMA not in before["schemas"]
    if opened_by_chroma:
        assert _content(source) == content, "the source was written"
    else:
        assert _files(source) == files, "the source was written"


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_source_is_refused_naming_the_path_and_writes_nothing(case: str, reader: str, template: Path,
                                                                      tmp_path: Path, settings: Any,
                                                                      dsn: str) -> None:
    make, message = CASES[case]
    source = make(Path(shutil.copytree(template, tmp_path / "store")))
    _refused(settings, dsn, source, message, opened_by_chroma=case == OPENED_BY_CHROMA)


def test_the_cli_exits_2_with_the_same_message(template: Path, tmp_path: Path, dsn: str) -> None:
    cases = ["missing-path", "random-files", "older-chroma", "damaged-page"]
    sources = {case: CASES[case][0](Path(shutil.copytree(template, tmp_path / case))) for case in cases}
    before, files = platform_snapshot(dsn), {case: _files(source) for case, source in sources.items()}
    running = {case: subprocess.Popen(migrate_command(source, SCHEMA), text=True, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE) for case, source in sources.items()}
    for case, proc in running.items():
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2, f"{case}: exit {proc.returncode}\n{stderr}"
        assert "Traceback" not in stderr and str(sources[case]) in stderr, f"{case}: {stderr}"
        assert re.search(CASES[case][1], stderr), f"{case}: {stderr}"
        assert _files(sources[case]) == files[case], f"{case}: the source was written"
    assert platform_snapshot(dsn) == before


@pytest.fixture(params=[("EXCLUSIVE", "files"), ("IMMEDIATE", "api")], ids=["exclusive-files", "write-api"])
def locked(request: pytest.FixtureRequest, template: Path, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the template on which another process holds a lock until the test ends."""
    lock, reader_name = request.param
    monkeypatch.setenv(chroma_source.READER_ENV, reader_name)
    store = Path(shutil.copytree(template, tmp_path / "store"))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"conn = sqlite3.connect(sys.argv[1], isolation_level=None); conn.execute('BEGIN {lock}')\n"
         "print('locked', flush=True); time.sleep(120)", str(store / "chroma.sqlite3")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield store
    finally:
        holder.kill()
        holder.wait()


def test_a_locked_store_is_refused_instead_of_waiting_forever(locked: Path, settings: Any, dsn: str) -> None:
    _refused(settings, dsn, locked, "another process holds locked for writing")


def test_a_healthy_copy_passes_the_checks_unchanged(template: Path, tmp_path: Path) -> None:
    store = Path(shutil.copytree(template, tmp_path / "store"))
    raw = _sha256(store / "chroma.sqlite3")
    # the check takes the write lock and gives it back
    assert chroma_store.check_local_store(str(store), thorough=True) == store
    assert _sha256(store / "chroma.sqlite3") == raw and not (store / "chroma.sqlite3-journal").exists()
    assert chroma_source.collection_names(SourceSpec(path=str(store))) == [COLLECTION]


def test_known_migrations_are_those_the_installed_chromadb_writes(template: Path) -> None:
    conn = sqlite3.connect(f"{(template / 'chroma.sqlite3').as_uri()}?mode=ro", uri=True)
    newest = dict(conn.execute("SELECT dir, max(version) FROM migrations GROUP BY dir").fetchall())
    conn.close()
    assert newest == chroma_store.KNOWN_MIGRATIONS, f"chromadb {chroma_store.chromadb_version()} writes {newest}"
