"""``vectorops compare``'s engines on every index kind (issue 23): the pgvector engine searches a table through
whichever index it has, at that kind's knob; Chroma's in-process engine can be reloaded at another ef_search."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from psycopg import sql

from vectorops.compare.dataset import recall_at_10
from vectorops.compare.engines import ChromaLocalEngine, IndexSearcher, PostgresEngine, knob_ladder
from vectorops.db.connect import connect
from vectorops.load import index_kinds
from vectorops.load.indexing import IndexSpec, build_index
from vectorops.monitor.ef_advice import EF_LADDER
from vectorops.quality.exact_search import ExactTopK

ROWS, DIMS, QUERIES = 600, 16, 20
COLLECTION = "kinds"


@pytest.fixture
def table(dsn: str) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    """A store-created cosine collection of ``ROWS`` random vectors in a schema of its own."""
    from vectorops.store.postgres import PostgresStore

    schema = f"compare_kinds_{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((ROWS, DIMS), dtype=np.float32)
    queries = rng.standard_normal((QUERIES, DIMS), dtype=np.float32)
    store = PostgresStore(dsn, table_schema=schema, service="test-compare-kinds")
    try:
        col = store.get_or_create_collection(COLLECTION, metadata={"hnsw:space": "cosine"})
        col.add(ids=[f"r{i:04d}" for i in range(ROWS)], embeddings=vectors)
        yield schema, col.info.table, vectors, queries
        store.delete_collection(COLLECTION)
    finally:
        store.close()
        with connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _truth(vectors: np.ndarray, queries: np.ndarray) -> list[list[str]]:
    top = ExactTopK(queries, "cosine", 10)
    top.add([f"r{i:04d}" for i in range(ROWS)], vectors)
    return top.result()


def _plan(searcher: Any, vector: np.ndarray) -> str:
    row = searcher.conn.execute(sql.SQL("EXPLAIN {}").format(searcher.statement),
                                {"query": vector, "k": 10, "depth": searcher.depth}, binary=True).fetchall()
    return "\n".join(r[0] for r in row)


@pytest.mark.parametrize("kind", index_kinds.KINDS)
def test_the_engine_searches_each_kind_through_its_index(dsn: str, table: tuple[str, str, np.ndarray, np.ndarray],
                                                         kind: str) -> None:
    schema, name, vectors, queries = table
    with connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(schema, f"{name}_hnsw")))
        build = build_index(conn, IndexSpec(schema, name, name + index_kinds.index_suffix(kind), "cosine", DIMS,
                                            ROWS, 16, 64, 256, kind))
    engine = PostgresEngine(dsn, schema, COLLECTION, "test-compare-kinds", name=kind, kind=kind)
    assert engine.setting == index_kinds.KNOBS[kind]
    ladder = knob_ladder(kind, build.lists)
    assert ladder == {"ivfflat": index_kinds.probe_ladder(build.lists or 0),
                      "hnsw_bit_rerank": index_kinds.RERANK_LADDER}.get(kind, EF_LADDER)
    engine.set_effort(ladder[-1])  # the top rung: every list, or the widest search
    searcher = engine.open()
    assert isinstance(searcher, IndexSearcher)
    try:
        with searcher.conn.cursor() as cur:  # the knob is the session's
            setting = "ivfflat.probes" if kind == "ivfflat" else "hnsw.ef_search"
            assert cur.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone() == (
                str(min(ladder[-1], index_kinds.MAX_EF_SEARCH)),)
        searcher.conn.execute("SET enable_seqscan = off")  # 600 rows: the planner would rather read the table
        assert build.index_name is not None and build.index_name in _plan(searcher, queries[0])
        answers = [searcher.search(q) for q in queries]
    finally:
        searcher.close()
    assert all(len(a) == 10 for a in answers)
    # bits keep 16 of 16×32 bits: only their re-ranked depth (here every row the graph reaches) makes recall
    assert recall_at_10(answers, _truth(vectors, queries)) >= 0.9


def test_without_a_kind_the_engine_is_the_store(dsn: str, table: tuple[str, str, np.ndarray, np.ndarray]) -> None:
    engine = PostgresEngine(dsn, table[0], COLLECTION, "test-compare-kinds")
    assert engine.setting == "hnsw.ef_search" and engine.kind is None
    engine.set_effort(40)
    searcher = engine.open()
    try:
        assert not isinstance(searcher, IndexSearcher)
        assert len(searcher.search(table[3][0])) == 10
    finally:
        searcher.close()
    with pytest.raises(ValueError, match="kind='flat'"):
        PostgresEngine(dsn, table[0], COLLECTION, "x", kind="flat")


def test_chroma_in_process_reloads_at_another_ef_search(tmp_path: Path) -> None:
    from chromadb.api.client import SharedSystemClient

    from vectorops.store.chroma import ChromaStore

    path = tmp_path / "chroma"
    rng = np.random.default_rng(3)
    store = ChromaStore(path)
    col = store.client.create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine", "ef_search": 100}})
    col.add(ids=[f"r{i}" for i in range(200)], embeddings=rng.standard_normal((200, 8), dtype=np.float32))
    fixed = ChromaLocalEngine(path, COLLECTION)
    with pytest.raises(ValueError, match="configured ef_search 100"):
        fixed.set_effort(40)
    engine = ChromaLocalEngine(path, COLLECTION, reload=True, raw=True)
    engine.set_effort(40)
    assert engine.effort() == 40
    searcher = engine.open()
    assert type(searcher.collection).__module__.startswith("chromadb")  # raw: chromadb's own collection
    assert len(searcher.search(rng.standard_normal(8).astype(np.float32))) == 10
    SharedSystemClient.clear_system_cache()
