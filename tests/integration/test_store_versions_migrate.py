"""Stores written by every supported Chroma version migrate exactly, and no command writes one byte of them.

The stores under ``tests/fixtures/stores`` were written by the real chromadb of each version (0.4.24 to 1.5.9),
with cosine, l2 and ip collections, updates, upserts, deletes and writes still in the log, a never-flushed and
an empty collection, and a second tenant/database. Their ``expected.json`` is what that Chroma's own ``get()``
and ``query()`` returned on a private copy. Each store is copied to a temporary directory (so a bug cannot
damage the committed fixture), hashed, and hashed again after ``migrate --dry-run``, ``migrate``, ``validate``
and ``backup``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support import forget_schema, fresh_database, migrate_in_process
from vectorops.chroma.preflight import CollectionRef

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
VERSIONS = ["0.4.24", "0.5.18", "0.6.3", "1.0.21", "1.5.9"]


def store_hashes(store: Path) -> dict[str, str]:
    """sha256 of every file below ``store``, by relative path (a new or removed file changes it too)."""
    return {str(f.relative_to(store)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(store.rglob("*")) if f.is_file()}


def expected(version: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / f"chroma-{version}" / "expected.json").read_text())["collections"]


def label(entry: dict[str, Any]) -> str:
    default = entry["tenant"] == "default_tenant" and entry["database"] == "default_database"
    return entry["name"] if default else f"{entry['tenant']}/{entry['database']}/{entry['name']}"


def registry(dsn: str, schema: str) -> dict[str, dict[str, Any]]:
    """The schema's registry rows by label (a key may carry a store suffix: other tests' stores share names)."""
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("SELECT * FROM vectorops.collection_registry WHERE table_schema = %s", (schema,))
        names = [d.name for d in cur.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return {label({"tenant": r["tenant"], "database": r["database"], "name": r["collection"]}): r for r in rows}


def labels(summaries: list[dict[str, Any]]) -> list[str]:
    return sorted(CollectionRef.parse(s["collection"]).label for s in summaries)


def table_records(dsn: str, schema: str, table: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(sql.SQL("SELECT id, substr(vector_send(embedding), 5), document, metadata, uri FROM {}")
                            .format(sql.Identifier(schema, table))).fetchall()
    return {r[0]: {"embedding": np.frombuffer(bytes(r[1]), dtype=">f4").astype("<f4").tobytes().hex(),
                   "document": r[2], "metadata": r[3], "uri": r[4]} for r in rows}


def typed(value: Any) -> Any:
    """Metadata with each value's type kept, so 1, 1.0 and True compare unequal."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("versions")
    return {version: Path(shutil.copytree(FIXTURES / f"chroma-{version}" / "store", root / version))
            for version in [*VERSIONS, "1.5.9-tenants"]}


@pytest.fixture(scope="module")
def backup_dsn(dsn: str) -> Iterator[str]:
    """An empty database on the test server, for the backups this module takes; its DSN."""
    with fresh_database(dsn, "versions_backup") as database:
        yield database


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_migrates_exactly_and_is_never_written(version: str, stores: dict[str, Path], settings: Any,
                                                             dsn: str, backup_dsn: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli import main

    store = stores[version]
    schema = "v" + version.replace(".", "_")
    before = store_hashes(store)

    assert main.main(["migrate", "--dry-run", "--chroma-path", str(store), "--schema", schema]) == 0
    out = capsys.readouterr().out
    assert store_hashes(store) == before, "migrate --dry-run wrote to the source"
    for entry in expected(version):
        assert label(entry) in out

    summaries = migrate_in_process(settings, {"chroma_path": str(store), "target_schema": schema}, f"v-{version}")
    assert store_hashes(store) == before, "migrate wrote to the source"
    entries = {label(e): e for e in expected(version)}
    assert labels(summaries) == sorted(entries)
    assert all(s["reader"] == "files" for s in summaries), [(s["collection"], s["reader"]) for s in summaries]
    rows = registry(dsn, schema)
    assert sorted(rows) == sorted(entries)
    for key, entry in entries.items():
        row = rows[key]
        assert (row["tenant"], row["database"], row["collection"]) == (entry["tenant"], entry["database"],
                                                                       entry["name"])
        if entry["space"] is not None:
            assert row["distance"] == entry["space"], f"{version} {key}: space {row['distance']}, Chroma {entry}"
        assert (row["hnsw_m"], row["hnsw_ef_construction"], row["hnsw_ef_search"]) == (
            entry["hnsw"]["M"], entry["hnsw"]["construction_ef"], entry["hnsw"]["search_ef"]), key
        got = table_records(dsn, schema, row["table_name"])
        want = {r["id"]: r for r in entry["records"]}
        assert sorted(got) == sorted(want), f"{version} {key}: ids differ"
        for record_id, record in want.items():
            mine = got[record_id]
            assert mine["embedding"] == record["embedding"], f"{version} {key} {record_id!r}: vector differs"
            assert (mine["document"], mine["uri"]) == (record["document"], record["uri"]), record_id
            assert typed(mine["metadata"]) == typed(record["metadata"]), f"{version} {key} {record_id!r}"

    monkeypatch.setenv("VECTOROPS_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("CHROMA_DB_PATH", str(store))
    for key in entries:
        assert main.main(["validate", "--collection", rows[key]["collection_key"]]) == 0, capsys.readouterr()
    assert store_hashes(store) == before, "validate wrote to the source"
    # the backup archives the store; it dumps and verifies a database of its own, so its time does not grow with
    # every table the rest of the suite left in the shared one (backing up migrated tables: test_backup.py)
    assert main.main(["backup", "--dsn", backup_dsn]) == 0, capsys.readouterr()
    assert store_hashes(store) == before, "backup wrote to the source"
    forget_schema(dsn, schema)


def test_three_tenant_database_pairs_arrive_whole_in_distinct_tables(stores: dict[str, Path], settings: Any,
                                                                     dsn: str) -> None:
    store = stores["1.5.9-tenants"]
    before = store_hashes(store)
    schema = "tenants"
    entries = {label(e): e for e in expected("1.5.9-tenants")}
    assert {"docs", "acme/prod/docs"} <= set(entries)
    summaries = migrate_in_process(settings, {"chroma_path": str(store), "target_schema": schema}, "tenants")
    assert labels(summaries) == sorted(entries)
    rows = registry(dsn, schema)
    assert sorted(rows) == sorted(entries)
    assert len({r["table_name"] for r in rows.values()}) == len(rows), "two collections share a table"
    for key, entry in entries.items():
        assert rows[key]["distance"] == entry["space"]
        assert sorted(table_records(dsn, schema, rows[key]["table_name"])) == sorted(r["id"] for r in entry["records"])

    # migrating one of the two `docs` again repoints only its own row
    docs_table = rows["docs"]["table_name"]
    migrate_in_process(settings, {"chroma_path": str(store), "target_schema": schema,
                                  "collections": ["acme/prod/docs"]}, "tenants-again")
    again = registry(dsn, schema)
    assert again["docs"]["table_name"] == docs_table and again["docs"]["last_run_id"] == "tenants"
    assert again["acme/prod/docs"]["last_run_id"] == "tenants-again"
    assert store_hashes(store) == before
    forget_schema(dsn, schema)


def test_an_ambiguous_bare_name_is_refused_listing_the_candidates(stores: dict[str, Path], settings: Any) -> None:
    from vectorops.errors import SourceError
    from vectorops.migration import request as migration_request

    store = stores["1.5.9-tenants"]
    request = migration_request.request_from_params({"chroma_path": str(store), "collections": ["docs"]}, settings)
    candidates = "acme/prod/docs, default_tenant/default_database/docs"
    with pytest.raises(SourceError, match=rf"'docs' is ambiguous .*{candidates}"):
        migration_request.select_collections(request)
    unambiguous = migration_request.request_from_params(
        {"chroma_path": str(store), "collections": ["notes", "default_tenant/default_database/docs"]}, settings)
    assert migration_request.select_collections(unambiguous) == ["acme/staging/notes", "docs"]


def test_two_stores_with_a_collection_of_the_same_name_never_share_a_key_or_table(
        stores: dict[str, Path], settings: Any, dsn: str) -> None:
    schema = "two_stores"
    first, second = stores["1.0.21"], stores["1.5.9"]
    # the first store's tiny lives in another schema too (an earlier test): kept apart, explicitly
    one = migrate_in_process(settings, {"chroma_path": str(first), "target_schema": schema, "collections": ["tiny"],
                                        "previous_table": "keep"}, "s1")[0]
    two = migrate_in_process(settings, {"chroma_path": str(second), "target_schema": schema,
                                        "collections": ["tiny"], "previous_table": "keep"}, "s2")[0]
    assert one["collection"] != two["collection"], "two stores' collections share a claim and a run ledger"
    assert {CollectionRef.parse(one["collection"]).name, CollectionRef.parse(two["collection"]).name} == {"tiny"}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""SELECT collection_key, source_uri, table_name, last_run_id, collection
                               FROM vectorops.collection_registry WHERE table_schema = %s ORDER BY last_run_id""",
                            (schema,)).fetchall()
    assert [(r[0], r[3], r[4]) for r in rows] == [(one["collection"], "s1", "tiny"), (two["collection"], "s2", "tiny")]
    assert len({r[1] for r in rows}) == 2 and len({r[2] for r in rows}) == 2
    # the first store again: its own row and table only
    migrate_in_process(settings, {"chroma_path": str(first), "target_schema": schema, "collections": ["tiny"]}, "s3")
    with psycopg.connect(dsn) as conn:
        again = dict(conn.execute("""SELECT collection_key, last_run_id FROM vectorops.collection_registry
                                     WHERE table_schema = %s""", (schema,)).fetchall())
    assert again == {one["collection"]: "s3", two["collection"]: "s2"}
    forget_schema(dsn, schema)
