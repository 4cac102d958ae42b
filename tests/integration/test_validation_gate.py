"""The validation gate before promotion, and tampering with live tables: validate fails, records, alerts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.alert_receivers import smtp_uri, use_webhook
from tests.support import add_records, chroma_client, forget_collection, migrate_in_process, pg_digest, registry_row
from vectorops.naming import table_name_for

SCHEMA = "gated"
OVERLAP_SCHEMA = "gated_overlap"  # its own: the test drops it at the end
TAMPERS = {
    "deleted-rows": ("DELETE FROM {t} WHERE id IN ('r-001', 'r-002')", "row_count_equals_expected"),
    "null-embedding": ("UPDATE {t} SET embedding = NULL WHERE id = 'r-003'", "embedding_not_null"),
    "zero-vector": ("UPDATE {t} SET embedding = array_fill(0, ARRAY[16])::vector WHERE id = 'r-004'",
                    "embedding_nonzero_norm"),
    "edited-document": ("UPDATE {t} SET document = 'edited' WHERE id = 'r-005'", "checksum_matches_baseline"),
    "dropped-table": ("DROP TABLE {t}", "table_exists"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma-gate")
    client = chroma_client(path)
    rng = np.random.default_rng(3)
    for name in [*TAMPERS, "gate-blocked", "wrongly-quarantined", "clean-table"]:
        col = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}})
        add_records(col, [f"r-{i:03d}" for i in range(120)], rng.standard_normal((120, 16), dtype=np.float32),
                    [f"text {i}" for i in range(120)], [{"i": i} for i in range(120)])
    return path


@pytest.fixture(scope="module")
def migrated(store: Path, settings: Any) -> list[str]:
    names = [*TAMPERS, "clean-table"]
    migrate_in_process(settings, {"chroma_path": str(store), "collections": names, "target_schema": SCHEMA},
                       "gate-setup")
    return names


def _results(dsn: str, collection: str, stage: str) -> dict[str, bool]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """SELECT expectation, success FROM vectorops.validation_results
               WHERE collection = %s AND stage = %s AND validation_id = (
                   SELECT validation_id FROM vectorops.validation_results WHERE collection = %s AND stage = %s
                   ORDER BY result_id DESC LIMIT 1)""", (collection, stage, collection, stage)).fetchall()
    return dict(rows)


def test_a_clean_migration_passes_the_gate_and_the_live_check(migrated: list[str], dsn: str, settings: Any,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main

    gate = _results(dsn, "clean-table", "gate")
    assert gate and all(gate.values()), gate
    assert {"row_count_equals_expected", "id_unique", "embedding_dimensions", "embedding_nonzero_norm",
            "checksum_matches_source", "sample_exact_equality", "top10_overlap"} <= set(gate)
    assert main(["validate", "--collection", "clean-table"]) == 0
    out = capsys.readouterr().out
    assert "PASS clean-table" in out
    assert all(_results(dsn, "clean-table", "live").values())
    assert (settings.home / "data_docs" / "index.html").is_file()
    row = registry_row(dsn, "clean-table")
    assert row["validation_success"] is True and len(row["content_sha256"]) == 64


@pytest.mark.parametrize("collection", list(TAMPERS))
def test_tampering_fails_validate_records_failures_and_alerts(
        collection: str, migrated: list[str], dsn: str, monkeypatch: pytest.MonkeyPatch, http_receiver: Any,
        smtp_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.main import main

    statement, expectation = TAMPERS[collection]
    handler, smtp_port = smtp_server
    use_webhook(monkeypatch, http_receiver.url("/hook"))
    monkeypatch.setenv("VECTOROPS_ALERT_SMTP_CONN_ID", "alert_smtp")
    monkeypatch.setenv("AIRFLOW_CONN_ALERT_SMTP", smtp_uri(smtp_port))
    monkeypatch.setenv("VECTOROPS_ALERT_EMAIL_TO", "oncall@example.com")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(t=sql.Identifier(SCHEMA, table_name_for(collection))))
    assert main(["validate", "--collection", collection]) == 1
    assert f"FAIL {collection}" in capsys.readouterr().out
    results = _results(dsn, collection, "live")
    assert results[expectation] is False, results
    assert registry_row(dsn, collection)["validation_success"] is False
    posts = [p.json() for p in http_receiver.posts if p.path == "/hook"]
    assert [p["collection"] for p in posts] == [collection]
    payload = posts[0]
    assert payload["event"] == "validation_failed" and payload["table"] == f"{SCHEMA}.{table_name_for(collection)}"
    assert expectation in [f["expectation"] for f in payload["failed_expectations"]]
    assert "test-password" not in http_receiver.bodies()
    mails = handler.mails
    assert len(mails) == 1 and collection in str(mails[0].message["Subject"])
    assert expectation in mails[0].text()


def test_a_shadow_table_that_fails_validation_is_not_promoted(store: Path, settings: Any, dsn: str) -> None:
    from vectorops.migration import request as migration_request
    from vectorops.migration import steps
    from vectorops.quality import gate as quality_gate

    params = {"chroma_path": str(store), "collections": ["gate-blocked"], "target_schema": SCHEMA}
    migrate_in_process(settings, params, "gate-first")
    table = table_name_for("gate-blocked")
    live_before = pg_digest(dsn, SCHEMA, table)
    registry_before = registry_row(dsn, "gate-blocked")
    request = migration_request.request_from_params(params, settings)
    plan = steps.prepare(settings, request, "gate-blocked", "gate-second")
    for chunk_no in plan.chunks:
        steps.load(settings, plan, chunk_no)
    with psycopg.connect(dsn, autocommit=True) as conn:  # a loader bug, simulated: one document altered
        conn.execute(sql.SQL("UPDATE {} SET document = 'not what the source says' WHERE id = 'r-010'").format(
            sql.Identifier(SCHEMA, plan.shadow)))
    with pytest.raises(quality_gate.ValidationFailed, match="checksum_matches_source") as failure:
        steps.finalize(settings, plan)
    assert failure.value.report.stage == "gate"
    observed = next(f["observed"] for f in failure.value.failed_expectations
                    if f["expectation"] == "checksum_matches_source")
    assert observed["differing"]["document"] == 1 and observed["samples"]["document"] == ["r-010"]
    assert pg_digest(dsn, SCHEMA, table) == live_before
    after = registry_row(dsn, "gate-blocked")
    assert after["last_run_id"] == registry_before["last_run_id"] == "gate-first"
    with psycopg.connect(dsn) as conn:
        status = conn.execute("SELECT status, error FROM vectorops.migration_runs WHERE attempt_id = %s",
                              (plan.attempt_id,)).fetchone()
        shadow_exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                                     (f"{SCHEMA}.{plan.shadow}",)).fetchone()[0]
    assert status[0] == "rejected" and "checksum_matches_source" in status[1]
    assert shadow_exists  # kept for inspection; the live table is untouched
    # the HNSW build ran beside the gate; the rejected shadow table keeps no index of it, the live table keeps its own
    assert _vector_indexes(dsn, SCHEMA, plan.shadow) == []
    assert _vector_indexes(dsn, SCHEMA, table) == [f"{table}_hnsw"]
    assert _results(dsn, "gate-blocked", "gate")["checksum_matches_source"] is False


def _vector_indexes(dsn: str, schema: str, table: str) -> list[str]:
    """The valid indexes of ``schema.table`` other than its primary key."""
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute(
            """SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND i.indisvalid ORDER BY 1""",
            (sql.Identifier(schema, table).as_string(),))]


def test_the_gate_runs_while_the_index_builds_and_a_failed_gate_stops_the_build(
        tmp_path: Path, settings: Any, dsn: str) -> None:
    """Finalize takes about the longer of the gate and the HNSW build, not their sum; a gate that fails while the
    build still runs cancels it: the rejected shadow keeps no index, the live table keeps its own (issue 23)."""
    from vectorops.migration import request as migration_request
    from vectorops.migration import steps
    from vectorops.quality import gate as quality_gate

    path, name, rows = tmp_path / "chroma-overlap", "overlapped", 10_000
    rng = np.random.default_rng(5)
    col = chroma_client(path).create_collection(name, configuration={"hnsw": {
        "space": "l2", "max_neighbors": 16, "ef_construction": 256}})  # a build of seconds
    add_records(col, [f"o-{i:05d}" for i in range(rows)], rng.standard_normal((rows, 48), dtype=np.float32),
                [f"doc {i}" for i in range(rows)], [{"i": i} for i in range(rows)])
    params = {"chroma_path": str(path), "collections": [name], "target_schema": OVERLAP_SCHEMA}
    table = table_name_for(name)
    try:
        (summary,) = migrate_in_process(settings, params, "gate-overlap")
        with psycopg.connect(dsn) as conn:
            gate_s, index_s, finalize_s = conn.execute(
                "SELECT validate_seconds, index_seconds, finalize_seconds FROM vectorops.migration_runs "
                "WHERE attempt_id = %s", (summary["attempt_id"],)).fetchone()
        assert min(gate_s, index_s) > 1.0, (gate_s, index_s)
        # one after the other, finalize would take more than their sum
        assert finalize_s < gate_s + index_s - 0.5 * min(gate_s, index_s), (gate_s, index_s, finalize_s)
        assert _vector_indexes(dsn, OVERLAP_SCHEMA, table) == [f"{table}_hnsw"]
        live_before = pg_digest(dsn, OVERLAP_SCHEMA, table)

        request = migration_request.request_from_params(params, settings)
        plan = steps.prepare(settings, request, name, "gate-overlap-rejected")
        for chunk_no in plan.chunks:
            steps.load(settings, plan, chunk_no)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("UPDATE {} SET document = 'edited' WHERE id = 'o-00010'").format(
                sql.Identifier(OVERLAP_SCHEMA, plan.shadow)))
        started = time.perf_counter()
        with pytest.raises(quality_gate.ValidationFailed, match="checksum_matches_source"):
            steps.finalize(settings, plan)
        failed_after = time.perf_counter() - started
        assert failed_after < gate_s + index_s, (failed_after, gate_s, index_s)  # the build did not run to its end
        assert _vector_indexes(dsn, OVERLAP_SCHEMA, plan.shadow) == []
        assert _vector_indexes(dsn, OVERLAP_SCHEMA, table) == [f"{table}_hnsw"]
        assert pg_digest(dsn, OVERLAP_SCHEMA, table) == live_before
        with psycopg.connect(dsn) as conn:  # nothing of the cancelled build still runs
            assert conn.execute("SELECT count(*) FROM pg_stat_progress_create_index").fetchone()[0] == 0
    finally:
        forget_collection(dsn, name, OVERLAP_SCHEMA)


def test_a_good_record_quarantined_by_the_loader_fails_the_gate(store: Path, settings: Any, dsn: str) -> None:
    from vectorops.migration import request as migration_request
    from vectorops.migration import steps
    from vectorops.quality import gate as quality_gate
    from vectorops.records import SourceRecord, quarantine_payload

    params = {"chroma_path": str(store), "collections": ["wrongly-quarantined"], "target_schema": SCHEMA}
    request = migration_request.request_from_params(params, settings)
    plan = steps.prepare(settings, request, "wrongly-quarantined", "gate-quarantine")
    for chunk_no in plan.chunks:
        steps.load(settings, plan, chunk_no)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():  # a loader bug, simulated
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = 'r-020'").format(sql.Identifier(SCHEMA, plan.shadow)))
        conn.execute("""INSERT INTO vectorops.quarantine (collection, record_id, reason, payload, attempt_id)
                        VALUES ('wrongly-quarantined', 'r-020', 'made up', %s, %s)""",
                     (quarantine_payload(SourceRecord("r-020", None, None, None, None)), plan.attempt_id))
        conn.execute("""UPDATE vectorops.migration_chunks SET loaded_count = loaded_count - 1,
                            quarantined_count = quarantined_count + 1
                        WHERE attempt_id = %s AND chunk_no = 0""", (plan.attempt_id,))
    with pytest.raises(quality_gate.ValidationFailed, match="quarantine_justified") as failure:
        steps.finalize(settings, plan)
    observed = next(f["observed"] for f in failure.value.failed_expectations
                    if f["expectation"] == "quarantine_justified")
    assert observed["storable_but_quarantined"] == 1 and observed["samples"] == ["r-020"]
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.collection_registry "
                            "WHERE collection = 'wrongly-quarantined'").fetchone() == (0,)
