"""Full precision above 2,000 dimensions (issue 26, part 3): the column is ``vector(d)`` and only the index is on
``embedding::halfvec(d)``, so every distance the store returns is the full-precision one and the top k is exact
search's, on an exact scan and through the halfvec index (whose candidates are re-ranked by the full vector), in
every space; Chroma gives the same answers where its own HNSW finds exact search's; the search monitor's recall
probes take the same re-ranked path."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.store.conftest import drop_store_schema
from tests.support import ephemeral_chroma
from vectorops.load import index_kinds
from vectorops.quality.exact_search import DISTANCE_OPERATORS, ExactTopK
from vectorops.store.postgres import PostgresStore
from vectorops.store.postgres_collection import chroma_distance

ROWS, QUERIES, K = 400, 60, 10
DIMS = (2001, 3072)
SPACES = ("cosine", "l2", "ip")
RTOL = 1e-5


def _exact(space: str, queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Chroma's distances in float64 from the float32 vectors: pgvector's operator value, converted as the store
    converts it."""
    q, v = queries.astype(np.float64), vectors.astype(np.float64)
    dots = q @ v.T
    if space == "ip":
        operator = -dots
    elif space == "cosine":
        operator = 1.0 - dots / (np.linalg.norm(q, axis=1)[:, None] * np.linalg.norm(v, axis=1)[None, :])
    else:
        operator = np.sqrt(np.maximum((q ** 2).sum(axis=1)[:, None] - 2 * dots + (v ** 2).sum(axis=1)[None, :], 0))
    return np.vectorize(lambda value: chroma_distance(space, float(value)))(operator)


def _index_scans(dsn: str, schema: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE schemaname = %s "
                           "AND indexrelname LIKE %s", (schema, "%" + index_kinds.index_suffix("hnsw"))).fetchone()
    assert row is not None
    return int(row[0])


def _index_only(dsn: str) -> str:
    """``dsn`` whose sessions never scan a table sequentially: on a table of 400 rows the planner would sort the
    whole table by the halfvec distance instead (exact for these rows, so it would hide what the index returns)."""
    return psycopg.conninfo.make_conninfo(dsn, options="-c enable_seqscan=off")


@pytest.fixture(scope="module")
def schema(dsn: str) -> Iterator[str]:
    name = f"store_hd_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM vectorops.search_probes WHERE table_schema = %s", (name,))
    drop_store_schema(dsn, name)


@pytest.fixture(scope="module")
def stores(dsn: str, schema: str) -> Iterator[dict[str, PostgresStore]]:
    """Two stores on one schema: ``exact`` scans every table (all are below its ``exact_max_rows``); ``index`` goes
    through the index on every one (``exact_max_rows=0``, as the other index tests force it)."""
    exact = PostgresStore(dsn, table_schema=schema, exact_max_rows=ROWS * 10)
    index = PostgresStore(_index_only(dsn), table_schema=schema, exact_max_rows=0)
    yield {"exact": exact, "index": index}
    exact.close()
    index.close()


@pytest.fixture(scope="module")
def data() -> dict[int, tuple[list[str], np.ndarray, np.ndarray]]:
    """Per dimension: ids, Gaussian vectors (neighbours nearly tied: the case a halfvec order gets wrong) and
    queries."""
    out = {}
    for dims in DIMS:
        rng = np.random.default_rng(dims)
        out[dims] = ([f"h{i:04d}" for i in range(ROWS)], rng.standard_normal((ROWS, dims), dtype=np.float32),
                     rng.standard_normal((QUERIES, dims), dtype=np.float32))
    return out


def _collection(stores: dict[str, PostgresStore], data: dict[int, Any], dims: int, space: str) -> str:
    name = f"hd-{dims}-{space}"
    ids, vectors, _ = data[dims]
    try:
        stores["exact"].get_collection(name)
    except Exception:
        # ef_search above the rows: the graph's beam then reaches every row, so what is checked is the re-ranking
        # by the full vector, not the graph's own (build-dependent) misses
        col = stores["exact"].get_or_create_collection(name, metadata={"hnsw:space": space, "hnsw:search_ef": 1000})
        for start in range(0, ROWS, 200):
            col.add(ids=ids[start:start + 200], embeddings=vectors[start:start + 200])
    return name


def _check(result: dict[str, Any], space: str, ids: list[str], vectors: np.ndarray, queries: np.ndarray) -> float:
    """Assert the ids are exact search's and each distance the float64 one; the largest relative error."""
    top = ExactTopK(queries, space, K)
    top.add(ids, vectors)
    truth = top.result()
    expected = _exact(space, queries, vectors)
    position = {record_id: i for i, record_id in enumerate(ids)}
    worst = 0.0
    for q, (got_ids, distances) in enumerate(zip(result["ids"], result["distances"], strict=True)):
        assert got_ids == truth[q], f"query {q}: {got_ids} != {truth[q]}"
        want = np.array([expected[q, position[i]] for i in got_ids])
        np.testing.assert_allclose(distances, want, rtol=RTOL, atol=0)
        worst = max(worst, float(np.max(np.abs(np.asarray(distances) - want) / np.abs(want))))
    return worst


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("dims", DIMS)
def test_distances_and_order_are_exact_on_a_scan_and_through_the_halfvec_index(
        stores: dict[str, PostgresStore], data: dict[int, Any], dsn: str, schema: str, dims: int,
        space: str) -> None:
    name = _collection(stores, data, dims, space)
    ids, vectors, queries = data[dims]
    info = stores["index"].get_collection(name).info
    assert info.index_method == "hnsw_halfvec" and index_kinds.IndexedColumn("hnsw", space, dims).reranked
    with psycopg.connect(dsn) as conn:
        column_type = conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                                   "WHERE attrelid = %s::regclass AND attname = 'embedding'",
                                   (f'"{schema}"."{info.table}"',)).fetchone()
    assert column_type == (f"vector({dims})",)  # only the index is half precision
    for path, exact_max_rows in (("exact", ROWS * 10), ("index", 0)):
        before = _index_scans(dsn, schema)
        store = PostgresStore(_index_only(dsn) if path == "index" else dsn, table_schema=schema,
                              exact_max_rows=exact_max_rows)
        try:
            result = store.get_collection(name).query(query_embeddings=queries, n_results=K, include=["distances"])
        finally:
            store.close()  # its sessions' statistics reach pg_stat_user_indexes
        scans = _index_scans(dsn, schema) - before
        assert scans >= QUERIES if path == "index" else scans == 0, (path, scans)
        _check(result, space, ids, vectors, queries)


@pytest.mark.parametrize("space", SPACES)
def test_chroma_gives_the_same_ids_and_distances(stores: dict[str, PostgresStore], data: dict[int, Any],
                                                 space: str) -> None:

    dims = 3072
    ids, vectors, queries = data[dims]
    name = _collection(stores, data, dims, space)
    client = ephemeral_chroma()
    chroma = client.create_collection(f"hd-{space}-{uuid.uuid4().hex[:8]}", configuration={"hnsw": {"space": space}})
    try:
        chroma.add(ids=ids, embeddings=vectors)
        theirs = chroma.query(query_embeddings=queries, n_results=K, include=["distances"])
        ours = stores["index"].get_collection(name).query(query_embeddings=queries, n_results=K,
                                                          include=["distances"])
    finally:
        client.delete_collection(chroma.name)
    top = ExactTopK(queries, space, K)
    top.add(ids, vectors)
    truth = top.result()
    assert ours["ids"] == truth
    # Chroma's HNSW may miss a neighbour; where it finds the exact top k, the answers are the same
    same = [q for q in range(QUERIES) if theirs["ids"][q] == truth[q]]
    assert len(same) >= QUERIES * 0.8, f"Chroma exact on {len(same)} of {QUERIES} queries"
    np.testing.assert_allclose(np.asarray(ours["distances"])[same], np.asarray(theirs["distances"])[same],
                               rtol=1e-4)


@pytest.mark.parametrize("space", ["l2", "ip"])
def test_the_monitor_measures_recall_through_the_re_ranked_path(
        stores: dict[str, PostgresStore], data: dict[int, Any], settings: Any, dsn: str, schema: str,
        space: str) -> None:
    from pgvector.psycopg import register_vector

    from vectorops.monitor import monitor_table
    from vectorops.monitor.probe_queries import _ann_statement, _params, ann_round
    from vectorops.monitor.target import load_target

    name = _collection(stores, data, 3072, space)
    key = stores["index"].get_collection(name).info.key
    with psycopg.connect(dsn) as conn:
        target = load_target(conn, key, None)
        statement = _ann_statement(target, False).as_string(conn)
    assert target.column.reranked and target.kind == "hnsw" and target.ef_search is not None
    # the index orders the candidates, its whole ef_search of them; the full vector orders the result, as the store
    operator = DISTANCE_OPERATORS[space]
    assert "::halfvec(3072)" in statement and f"AS candidates ORDER BY embedding {operator} " in statement
    assert _params(target, data[3072][2][0], None, K + 1, target.ef_search)["depth"] == max(target.ef_search, K + 1)
    # the probes' answers are the store's (each probe a record, its own id dropped): recall is the store's
    ids, vectors, _ = data[3072]
    chosen = list(range(0, ROWS, 8))
    with psycopg.connect(dsn, autocommit=True) as conn:
        register_vector(conn)
        probed = ann_round(conn, target, [ids[i] for i in chosen], vectors[chosen], target.ef_search).neighbours
    stored = stores["index"].get_collection(name).query(query_embeddings=vectors[chosen], n_results=K + 1,
                                                        include=[])["ids"]
    assert probed == [[i for i in answer if i != ids[n]][:K] for n, answer in zip(chosen, stored, strict=True)]
    probes = dataclasses.replace(settings, monitor=dataclasses.replace(settings.monitor, probes=100))
    m = monitor_table(probes, key, f"hd-{uuid.uuid4().hex[:8]}")
    # what is left is the graph's own misses at this ef_search (a neighbour the full scan in halfvec order finds)
    assert m.index_used and m.recall_at_10 is not None and m.recall_at_10 >= 0.99, m
