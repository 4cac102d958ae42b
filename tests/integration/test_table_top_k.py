"""The gate's exact top 10 from the parity pass's read of a table equals pgvector's exact search of it."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from psycopg import sql

from vectorops.quality import merge, parity
from vectorops.quality.exact_search import ExactTopK, exact_top_k

SCHEMA = "table_top_k"
ROWS = 3000
DIMS = 16


@pytest.mark.parametrize("space", ["cosine", "l2", "ip"])
def test_the_streamed_top_k_is_pgvectors_exact_search_with_and_without_left_out_rows(dsn: str, space: str) -> None:
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((ROWS, DIMS)).astype(np.float32)
    ids = [f"r{i:05d}" for i in range(ROWS)]
    queries = vectors[rng.choice(ROWS, 8, replace=False)].astype(np.float64)
    with psycopg.connect(dsn, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        table = sql.Identifier(SCHEMA, space)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, embedding vector({}), document text, "
                             "metadata jsonb, uri text)").format(table, sql.Literal(DIMS)))
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} (id, embedding) FROM STDIN").format(table)) as copy:
            for record_id, vector in zip(ids, vectors, strict=True):
                copy.write_row((record_id, "[" + ",".join(repr(float(x)) for x in vector) + "]"))
        conn.execute(sql.SQL("INSERT INTO {} (id) VALUES ('no-vector')").format(table))  # NULL: never a neighbour
        top_k = ExactTopK(queries, space, 10 + 5)
        candidates = merge.Candidates(top_k, size=700)
        for row in parity.iter_table_rows(conn, SCHEMA, space):
            candidates.offer(row, False)
        candidates.flush()
        expected = [exact_top_k(conn, SCHEMA, space, space, q) for q in queries]
        assert top_k.nearest_outside(set(), 10) == expected
        # leave out three of each query's nearest: still answered from the 15 kept, as pgvector answers
        left_out = {i for answer in expected for i in answer[:3]}
        answers = top_k.nearest_outside(left_out, 10)
        for answer, query in zip(answers, queries, strict=True):
            assert answer is None or answer == exact_top_k(conn, SCHEMA, space, space, query, exclude=left_out)
        assert any(answer is not None for answer in answers)
        # leaving out more than the spare 5 of one query's nearest: that query is declined, not answered wrongly
        assert top_k.nearest_outside(set(expected[0][:6]), 10)[0] is None
