"""HNSW settings pgvector cannot take as they are (issue 26, part 4): Chroma 1.5.9 collections with ``hnsw:M`` 64
and 128 (construction_ef at its default 100) migrate, built as pgvector takes them (m at most 100, ef_construction
at least 2 * m); the dry run, the CLI summary, the run note and the registry show the source's settings and the
built ones, with a warning."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support import (
    add_records,
    chroma_client,
    chroma_digest,
    forget_collection,
    forget_schema,
    migrate_in_process,
    pg_digest,
)
from vectorops.cli import main
from vectorops.migration import dry_run
from vectorops.migration import request as migration_request
from vectorops.migration.summary import summary_note
from vectorops.naming import table_name_for

ROWS, DIMS = 300, 16
#: collection → (its Chroma settings, the (m, ef_construction) pgvector builds, the warning)
CASES = {
    "m64": ({"metadata": {"hnsw:M": 64, "hnsw:space": "cosine"}}, (64, 128),
            "HNSW M 64, construction_ef 100 (the source's) built as m 64, ef_construction 128: pgvector needs "
            "ef_construction of at least 2 * m"),
    "m128": ({"metadata": {"hnsw:M": 128}}, (100, 200),
             "HNSW M 128, construction_ef 100 (the source's) built as m 100, ef_construction 200: pgvector's m is "
             "at most 100; pgvector needs ef_construction of at least 2 * m"),
    "m128-cfg": ({"configuration": {"hnsw": {"space": "l2", "max_neighbors": 128, "ef_construction": 300}}},
                 (100, 300),
                 "HNSW M 128, construction_ef 300 (the source's) built as m 100, ef_construction 300: pgvector's m "
                 "is at most 100"),
    "m16": ({}, (16, 100), None),
}
SOURCE = {"m64": (64, 100), "m128": (128, 100), "m128-cfg": (128, 300), "m16": (16, 100)}
SCHEMAS = ("hnsw_limits", "hnsw_limits_halfvec", "hnsw_limits_bits", "hnsw_limits_ivf")


@pytest.fixture(scope="module", autouse=True)
def _leave_nothing(dsn: str) -> Any:
    yield
    for schema in SCHEMAS:
        forget_schema(dsn, schema)
        for collection in CASES:
            forget_collection(dsn, collection, schema)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Chroma 1.5.9 store (the installed chromadb) with one collection per case."""
    path = tmp_path_factory.mktemp("chroma-hnsw-limits")
    client = chroma_client(path)
    rng = np.random.default_rng(26)
    for name, (settings, _built, _note) in CASES.items():
        collection = client.create_collection(name, **settings)
        add_records(collection, [f"{name}-{i:04d}" for i in range(ROWS)],
                    rng.standard_normal((ROWS, DIMS)).astype(np.float32), [f"doc {i}" for i in range(ROWS)])
    return path


def _registry(dsn: str, schema: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT r.collection, r.hnsw_m, r.hnsw_ef_construction, r.source_hnsw_m, "
                           "r.source_hnsw_ef_construction, r.index_method, i.indexdef "
                           "FROM vectorops.collection_registry r LEFT JOIN pg_indexes i "
                           "ON i.schemaname = r.table_schema AND i.indexname = r.index_name "
                           "WHERE r.table_schema = %s", (schema,)).fetchall()
    return {row["collection"]: row for row in rows}


def test_the_dry_run_shows_the_source_and_the_built_settings_with_a_warning(
        store: Path, settings: Any, dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["migrate", "--chroma-path", str(store), "--schema", SCHEMAS[0], "--dry-run"]) == 0
    out = capsys.readouterr().out
    plans = {p["collection"]: p for p in json.loads(out.strip().splitlines()[-1])["plans"]}
    for name, (_settings, (m, ef), note) in CASES.items():
        plan = plans[name]
        assert plan["hnsw"] == {"m": m, "ef_construction": ef, "ef_search": 100, "source_m": SOURCE[name][0],
                                "source_ef_construction": SOURCE[name][1]}, name
        assert plan["warnings"] == ([note] if note else []), name
        if note:
            assert f"WARNING {name}: {note}" in out
            assert (f"INDEX {name}: hnsw, m {m}, ef_construction {ef} (the source's M {SOURCE[name][0]}, "
                    f"construction_ef {SOURCE[name][1]}), built now") in out
    assert "INDEX m16: hnsw, m 16, ef_construction 100, built now" in out
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (SCHEMAS[0],)).fetchone() == (0,)
    # an IVFFlat index builds no graph: the settings are shown, without a warning
    request = migration_request.request_from_params({"chroma_path": str(store), "index": "ivfflat",
                                                     "target_schema": SCHEMAS[3], "dry_run": True}, settings)
    plan = dry_run.dry_run_plan(settings, request, "m128")
    assert (plan["hnsw"]["m"], plan["hnsw"]["source_m"], plan["warnings"]) == (100, 128, [])


def test_the_migration_builds_what_pgvector_takes_and_the_summary_and_registry_say_so(
        store: Path, settings: Any, dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["migrate", "--chroma-path", str(store), "--schema", SCHEMAS[0]]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    registry = _registry(dsn, SCHEMAS[0])
    assert sorted(registry) == sorted(CASES)
    for name, (_settings, (m, ef), note) in CASES.items():
        row = registry[name]
        assert (row["hnsw_m"], row["hnsw_ef_construction"]) == (m, ef), name
        assert (row["source_hnsw_m"], row["source_hnsw_ef_construction"]) == SOURCE[name], name
        assert row["index_method"] == "hnsw" and f"WITH (m='{m}', ef_construction='{ef}')" in row["indexdef"], name
        assert chroma_digest(store, name) == pg_digest(dsn, SCHEMAS[0], table_name_for(name))
        summary_row = next(i for i, line in enumerate(lines) if line.startswith(f"{name} "))
        assert "promoted" in lines[summary_row]
        if note:
            assert lines[summary_row + 1] == f"    warning: {note}", out
        else:
            assert not lines[summary_row + 1].startswith("    warning:"), out


@pytest.mark.parametrize(("kind", "schema"), [("hnsw_halfvec", SCHEMAS[1]), ("hnsw_bit_rerank", SCHEMAS[2])])
def test_every_hnsw_kind_is_mapped_and_warned_about(kind: str, schema: str, store: Path, settings: Any, dsn: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    note = CASES["m128"][2]
    with caplog.at_level(logging.WARNING, logger="vectorops.migration.steps"):
        summary, = migrate_in_process(settings, {"chroma_path": str(store), "target_schema": schema, "index": kind,
                                                 "collections": ["m128"], "previous_table": "keep"}, f"hnsw-{kind}")
    assert f"collection 'm128': {note}" in caplog.messages  # at prepare, before any load
    assert summary["index"] == kind
    assert summary["hnsw"] == {"m": 100, "ef_construction": 200, "source_m": 128, "source_ef_construction": 100}
    assert summary["warnings"] == [note]
    # the DAG's run note (the key carries its store's suffix: the collection is in another schema too)
    assert summary_note([summary]).splitlines()[-1] == f"- **warning** `{summary['collection']}`: {note}"
    row = _registry(dsn, schema)["m128"]
    assert (row["hnsw_m"], row["hnsw_ef_construction"], row["source_hnsw_m"], row["source_hnsw_ef_construction"],
            row["index_method"]) == (100, 200, 128, 100, kind)
    assert "WITH (m='100', ef_construction='200')" in row["indexdef"]
