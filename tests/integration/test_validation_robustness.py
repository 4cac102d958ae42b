"""Live validation of any collection key (as long as Chroma allows, with ``/``, ``..``, ``@``, unicode), one
collection's error never stopping the others, and app-written as a property of the registry row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.alert_receivers import use_webhook
from tests.support import add_records, chroma_client, forget_collection, migrate_in_process
from vectorops.cli import main
from vectorops.db.sql_files import sql_text
from vectorops.naming import table_name_for
from vectorops.quality import gate

SCHEMA = "vrobust"
LONG = "L" + "ong-name." * 33 + "x"  # 299 characters, Chroma-legal: GX once made a file name of it
PLAIN, BROKEN, APP = "vr-plain", "vr-broken", "vr-app"
HOSTILE_KEY = "tënant ✓/../däta base/vr..hostile@deadbeef"  # a key as a tenant/database/name may make it


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> Iterator[dict[str, str]]:
    """Five collections migrated for real; the key of ``vr-hostile`` then made hostile. Their keys by role."""
    assert len(LONG) == 299
    path = tmp_path_factory.mktemp("chroma-vrobust")
    client = chroma_client(path)
    rng = np.random.default_rng(3)
    names = [LONG, PLAIN, BROKEN, APP, "vr-hostile"]
    for name in names:
        col = client.create_collection(name, configuration={"hnsw": {"space": "l2"}})
        add_records(col, [f"r{i}" for i in range(40)], rng.standard_normal((40, 4), dtype=np.float32),
                    [f"doc {i}" for i in range(40)], [{"i": i} for i in range(40)])
    migrate_in_process(settings, {"chroma_path": str(path), "collections": names, "target_schema": SCHEMA}, "vr-setup")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE vectorops.collection_registry SET collection_key = %s WHERE collection_key = %s",
                     (HOSTILE_KEY, "vr-hostile"))
    yield {"long": LONG, "plain": PLAIN, "broken": BROKEN, "app": APP, "hostile": HOSTILE_KEY}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM vectorops.validation_results WHERE table_schema = %s", (SCHEMA,))
        if conn.execute("SELECT to_regclass('vectorops.store_collections')").fetchone() != (None,):
            conn.execute("DELETE FROM vectorops.store_collections WHERE collection = %s", (APP,))
    for name in names:
        forget_collection(dsn, name, SCHEMA)


def _stored(dsn: str, validation_id: str) -> dict[str, tuple[bool, Any]]:
    with psycopg.connect(dsn) as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT expectation, success, observed_value FROM vectorops.validation_results WHERE validation_id = %s",
            (validation_id,))}


@pytest.mark.parametrize("role", ["long", "hostile"])
def test_any_collection_key_validates_live(migrated: dict[str, str], settings: Any, dsn: str, role: str) -> None:
    report = gate.validate_live(settings, migrated[role], run_id="vr-names")
    assert report.success, report.describe()
    names = {o.expectation for o in report.outcomes}
    assert {"row_count_equals_expected", "checksum_matches_baseline", "embedding_dimensions"} <= names
    assert all(success for success, _ in _stored(dsn, report.validation_id).values())
    # the GX project and the Data Docs stay inside their directories whatever the key holds
    for root in (settings.home / "gx", settings.home / "data_docs"):
        assert all(len(part.encode()) <= 255 for p in root.rglob("*") for part in p.relative_to(root).parts)
        assert all(p.resolve().is_relative_to(root.resolve()) for p in root.rglob("*"))


def test_a_collection_that_errors_is_recorded_and_alerted_and_the_others_still_run(
        migrated: dict[str, str], settings: Any, dsn: str, http_receiver: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    use_webhook(monkeypatch, http_receiver.url("/vr"))
    broken = sql.Identifier(SCHEMA, table_name_for(BROKEN))
    with psycopg.connect(dsn, autocommit=True) as conn:  # the suite's queries cannot run on this table
        conn.execute(sql.SQL("ALTER TABLE {} RENAME COLUMN embedding TO vector_was_here").format(broken))
    try:
        # the broken collection comes first: before, its error ended the command there
        code = main.main(["validate", "--collection", BROKEN, "--collection", PLAIN, "--collection", LONG])
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER TABLE {} RENAME COLUMN vector_was_here TO embedding").format(broken))
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"FAIL {BROKEN} " in out and f"PASS {PLAIN} " in out and f"PASS {LONG} " in out, out
    assert "2 of 3 collection(s) passed, 1 failed" in out
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""SELECT collection, expectation, success, observed_value FROM vectorops.validation_results
                               WHERE table_schema = %s AND stage = 'live' AND expectation = 'validation_ran'""",
                            (SCHEMA,)).fetchall()
        registry = conn.execute("SELECT validation_success FROM vectorops.collection_registry "
                                "WHERE collection_key = %s", (BROKEN,)).fetchone()
    assert [(r[0], r[2]) for r in rows] == [(BROKEN, False)] and "vector_was_here" not in json.dumps(rows[0][3])
    assert "embedding" in rows[0][3]["error"], rows[0][3]
    assert registry == (False,)
    posts = [p.json() for p in http_receiver.posts]
    assert [(p["event"], p["collection"]) for p in posts] == [("validation_failed", BROKEN)], posts
    assert [f["expectation"] for f in posts[0]["failed_expectations"]] == ["validation_ran"]


def test_an_unknown_collection_is_refused_before_any_validation(migrated: dict[str, str], dsn: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with psycopg.connect(dsn) as conn:
        before = conn.execute("SELECT count(*) FROM vectorops.validation_results").fetchone()
    assert main.main(["validate", "--collection", PLAIN, "--collection", "vr-never-migrated"]) == 2
    err, details = capsys.readouterr().err.strip().splitlines()  # one line naming the cause, then the log
    assert "'vr-never-migrated' have not been migrated" in err, err
    assert details.startswith("details: ") and Path(details.removeprefix("details: ")).is_file(), details
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.validation_results").fetchone() == before


def test_app_written_is_the_registry_rows_property_not_a_store_row_of_the_name(
        migrated: dict[str, str], settings: Any, dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        # the name was once created through the store, then migrated: its store row outlives that table
        conn.execute(sql_text("schema/create_store_tables"))  # what the store runs on first use
        conn.execute("INSERT INTO vectorops.store_collections (collection, created_by) VALUES (%s, 'vr-test')",
                     (APP,))
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = 'r7'").format(sql.Identifier(SCHEMA, table_name_for(APP))))
    report = gate.validate_live(settings, APP)
    failed = {f["expectation"] for f in report.failed_expectations}
    assert failed == {"row_count_equals_expected", "checksum_matches_baseline", "metadata_present"}, report.describe()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE vectorops.collection_registry SET app_written = true WHERE collection_key = %s", (APP,))
    report = gate.validate_live(settings, APP)
    names = {o.expectation for o in report.outcomes}
    assert report.success and not names & {"row_count_equals_expected", "checksum_matches_baseline"}, names


def test_gx_file_names_are_safe_for_any_text() -> None:
    from vectorops.quality.gx import file_name

    assert file_name("live-docs") == "live-docs" and file_name("gate-0123abcd") == "gate-0123abcd"
    for text in ["live-" + LONG, "live-" + HOSTILE_KEY, "..", ".", "a/b", "x" * 101, "ünï", "a..b", "/"]:
        name = file_name(text)
        assert len(name) <= 100 and "/" not in name and ".." not in name and name.strip("."), (text, name)
        assert Path(name).name == name
    assert file_name("a/b") != file_name("a_b") and file_name("x" * 101) != file_name("x" * 102)
