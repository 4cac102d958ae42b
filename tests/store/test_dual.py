"""dual mode: answers come from pgvector, writes reach both, a sampled share of queries is compared with Chroma in
the background, and top-k disagreements (and Chroma failures) land in vectorops.store_disagreements."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.store.conftest import drop_store_schema
from vectorops.store.chroma import ChromaStore
from vectorops.store.dual import DualStore
from vectorops.store.postgres import PostgresStore


@pytest.fixture
def dual(dsn: str, tmp_path: Path) -> Any:
    schema = f"dual_{uuid.uuid4().hex[:8]}"
    service = f"test-{schema}"
    store = DualStore(PostgresStore(dsn, table_schema=schema, service=service), ChromaStore(tmp_path), service,
                      sample_rate=1.0, seed=0)
    yield store
    store.close()
    drop_store_schema(dsn, schema, service)


def _rows(dsn: str, service: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM vectorops.store_disagreements WHERE service = %s ORDER BY disagreement_id",
                           (service,)).fetchall()


def test_agreement_records_nothing(dual: DualStore, dsn: str) -> None:
    rng = np.random.default_rng(1)
    col = dual.get_or_create_collection("dual-docs", metadata={"hnsw:space": "cosine"})
    vectors = rng.standard_normal((200, 8), dtype=np.float32)
    col.add(ids=[f"d{i}" for i in range(200)], embeddings=vectors, metadatas=[{"n": i % 5} for i in range(200)])
    assert col.primary.count() == col.shadow.count() == 200  # type: ignore[union-attr]
    col.query(query_embeddings=rng.standard_normal((6, 8), dtype=np.float32), n_results=5, where={"n": {"$ne": 2}})
    assert dual.flush()
    assert dual.stats["compared"] == 6 and dual.stats["agreed"] == 6
    assert _rows(dsn, dual.service) == []


def test_disagreement_and_failure_are_recorded(dual: DualStore, dsn: str) -> None:
    col = dual.get_or_create_collection("dual-drift")
    col.add(ids=["a", "b", "c"], embeddings=[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    col.shadow.add(ids=["ghost"], embeddings=[[0.9, 0.1]])  # type: ignore[union-attr]  # drifted Chroma data
    got = col.query(query_embeddings=[[1.0, 0.05]], n_results=2, where={"$or": [{"x": 1}, {"x": {"$ne": 1}}]})
    assert got["ids"] == [["a", "b"]]  # served by pgvector, which has no ghost
    assert dual.flush()
    [row] = _rows(dsn, dual.service)
    assert (row["collection"], row["n_results"], row["postgres_ids"], row["chroma_ids"]) == (
        "dual-drift", 2, ["a", "b"], ["a", "ghost"])
    assert row["overlap"] == 0.5 and row["error"] is None and row["where_filter"] == {"$or": [{"x": 1},
                                                                                             {"x": {"$ne": 1}}]}
    dual.shadow.delete_collection("dual-drift")  # Chroma fails from now on; the service does not
    col.upsert(ids=["d"], embeddings=[[0.5, 0.5]])
    assert dual.stats["shadow_write_errors"] == 1
    assert col.query(query_embeddings=[[0.5, 0.5]], n_results=1)["ids"] == [["d"]]
    assert dual.flush()
    failed = _rows(dsn, dual.service)[-1]
    assert failed["chroma_ids"] is None and "does not exist" in failed["error"]
    assert dual.stats["disagreed"] == 1 and dual.stats["errors"] == 1


def test_sampling(dsn: str, tmp_path: Path) -> None:
    schema = f"dual_{uuid.uuid4().hex[:8]}"
    primary = PostgresStore(dsn, table_schema=schema, service=schema)
    store = DualStore(primary, ChromaStore(tmp_path), schema, sample_rate=0.25, seed=3)
    try:
        col = store.get_or_create_collection("dual-sample")
        col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        for _ in range(200):
            col.query(query_embeddings=[[1.0, 0.0]], n_results=1)
        assert store.flush()
        assert 30 <= store.stats["compared"] <= 70 and store.stats["agreed"] == store.stats["compared"]
    finally:
        store.close()
        drop_store_schema(dsn, schema, schema)
