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

from tests.support import chroma_client, forget_collection, migrate_command, migrate_in_process, platform_snapshot
from vectorops.chroma import locate, preflight
from vectorops.chroma import source as chroma_source
from vectorops.chroma.source import SourceSpec
from vectorops.errors import SourceError

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
#: a migration missing between others: no Chroma writes that (an older Chroma's store is read: see below)
GAP = "DELETE FROM migrations WHERE dir = 'metadb' AND version = 3;"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"

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
    "migration-gap": (_sql(GAP), r"has a schema no Chroma writes: its migrations lack metadb 3"),
    "config-of-another-version": (_schema_of_another_version,
                                  r"collection 'docs': its HNSW configuration holds 'quantization', which no "
                                  r"chromadb up to 1\.5\.9 writes"),
}


@pytest.fixture(params=["files", "api"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(locate.READER_ENV, request.param)
    return str(request.param)


def _refused(settings: Any, dsn: str, source: Path, message: str) -> None:
    """A migration of ``source`` fails before any work with ``message`` and the path, and writes nothing."""
    before, files = platform_snapshot(dsn), _files(source)
    with pytest.raises(SourceError, match=message) as caught:
        migrate_in_process(settings, {"chroma_path": str(source), "target_schema": SCHEMA}, "hostile-source")
    assert str(source) in str(caught.value)
    assert platform_snapshot(dsn) == before
    assert SCHEMA not in before["schemas"]
    assert _files(source) == files, "the source was written"


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_source_is_refused_naming_the_path_and_writes_nothing(case: str, reader: str, template: Path,
                                                                      tmp_path: Path, settings: Any,
                                                                      dsn: str) -> None:
    make, message = CASES[case]
    source = make(Path(shutil.copytree(template, tmp_path / "store")))
    _refused(settings, dsn, source, message)


def test_the_cli_exits_2_with_the_same_message(template: Path, tmp_path: Path, dsn: str) -> None:
    cases = ["missing-path", "random-files", "migration-gap", "damaged-page"]
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


#: begins a transaction of the lock given, writes a row in it, and waits uncommitted
HOLD_LOCK = """import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute({"EXCLUSIVE": "BEGIN EXCLUSIVE", "IMMEDIATE": "BEGIN IMMEDIATE"}[sys.argv[2]])
conn.execute("INSERT INTO maintenance_log VALUES (4242, 0, 'uncommitted')")
print("locked", flush=True)
time.sleep(120)
"""


def _hold_lock(store: Path, lock: str) -> subprocess.Popen[str]:
    """Another process that holds ``lock`` on the store, with a write it has not committed."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store / "chroma.sqlite3"), lock],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture
def locked(reader: str, template: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the template on which another process holds an EXCLUSIVE lock (a writer committing) until the test
    ends: no reader can read it."""
    store = Path(shutil.copytree(template, tmp_path / "store"))
    holder = _hold_lock(store, "EXCLUSIVE")
    try:
        yield store
    finally:
        holder.kill()
        holder.wait()


def test_a_locked_store_is_refused_instead_of_waiting_forever(locked: Path, settings: Any, dsn: str) -> None:
    _refused(settings, dsn, locked, "another process holds locked for writing.*no read was possible")


def test_a_writer_mid_transaction_does_not_stop_the_read(reader: str, template: Path, tmp_path: Path,
                                                         settings: Any, dsn: str) -> None:
    """A RESERVED lock (a write not yet committed) leaves readers alone: the store is read as last committed."""
    store = Path(shutil.copytree(template, tmp_path / "store"))
    holder = _hold_lock(store, "IMMEDIATE")
    try:
        files = _files(store)
        assert preflight.check_local_store(str(store), thorough=True) == store
        summary = migrate_in_process(settings, {"chroma_path": str(store), "target_schema": SCHEMA},
                                     f"mid-transaction-{reader}")[0]
        assert summary["validation"] == "passed" and summary["loaded"] == 8
        assert _files(store) == files, "the source was written"
    finally:
        holder.kill()
        holder.wait()
        forget_collection(dsn, COLLECTION, SCHEMA)  # later tests (backups) dump every registered schema


@pytest.mark.parametrize("version", ["0.4.24", "0.5.18", "0.6.3", "1.0.21"])
def test_a_store_of_an_older_chroma_is_read_not_refused(version: str, tmp_path: Path) -> None:
    store = Path(shutil.copytree(FIXTURES / f"chroma-{version}" / "store", tmp_path / "store"))
    files = _files(store)
    assert preflight.check_local_store(str(store), thorough=True) == store
    assert "cos_docs" in chroma_source.collection_names(SourceSpec(path=str(store)))
    assert _files(store) == files, "the source was written"


def test_a_healthy_copy_passes_the_checks_unchanged(template: Path, tmp_path: Path) -> None:
    store = Path(shutil.copytree(template, tmp_path / "store"))
    raw = _sha256(store / "chroma.sqlite3")
    # the check only reads
    assert preflight.check_local_store(str(store), thorough=True) == store
    assert _sha256(store / "chroma.sqlite3") == raw and not (store / "chroma.sqlite3-journal").exists()
    assert chroma_source.collection_names(SourceSpec(path=str(store))) == [COLLECTION]


def test_a_page_damaged_after_a_full_check_fails_the_next_one(template: Path, tmp_path: Path) -> None:
    """A process checks every page once per state of the files (``vectorops migrate`` asks twice in one process);
    a write since, damage included, makes the next check read every page again."""
    store = Path(shutil.copytree(template, tmp_path / "store"))
    assert preflight.check_local_store(str(store), thorough=True) == store
    assert preflight.check_local_store(str(store), thorough=True) == store  # the same files: not read again
    _damage_table_page(store)
    with pytest.raises(SourceError, match=r"corrupt chroma\.sqlite3"):
        preflight.check_local_store(str(store), thorough=True)


def test_known_migrations_are_those_the_installed_chromadb_writes(template: Path) -> None:
    conn = sqlite3.connect(f"{(template / 'chroma.sqlite3').as_uri()}?mode=ro", uri=True)
    newest = dict(conn.execute("SELECT dir, max(version) FROM migrations GROUP BY dir").fetchall())
    conn.close()
    assert newest == preflight.KNOWN_MIGRATIONS, f"chromadb {preflight.chromadb_version()} writes {newest}"
