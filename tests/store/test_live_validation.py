"""The daily live validation on a collection an application created through the store: rows written by the app
are not held against a migration's counts or checksum, but every row is still checked."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from vectorops.naming import table_name_for
from vectorops.quality import gate
from vectorops.store.postgres import PostgresStore


def test_app_written_collection_passes_without_count_or_checksum_checks(pg_store: PostgresStore, dsn: str,
                                                                        settings: Any) -> None:
    name = f"app-notes-{uuid.uuid4().hex[:6]}"
    col = pg_store.get_or_create_collection(name, metadata={"hnsw:space": "cosine"})
    rng = np.random.default_rng(5)
    col.add(ids=[f"n{i}" for i in range(30)], embeddings=rng.standard_normal((30, 8)).tolist(),
            metadatas=[{"i": i} for i in range(30)])
    report = gate.validate_live(settings, name)
    names = {o.expectation for o in report.outcomes}
    assert report.success, report.describe()
    assert "row_count_equals_expected" not in names and "checksum_matches_baseline" not in names
    assert {"id_unique", "embedding_dimensions", "embedding_nonzero_norm"} <= names

    with psycopg.connect(dsn, autocommit=True) as conn:  # a row the app could not have written: still caught
        conn.execute(sql.SQL("INSERT INTO {} (id, embedding) VALUES ('zero', %s::vector)").format(
            sql.Identifier(pg_store.table_schema, table_name_for(name))), ("[" + ",".join(["0"] * 8) + "]",))
    failed = gate.validate_live(settings, name)
    assert [f["expectation"] for f in failed.failed_expectations] == ["embedding_nonzero_norm"]
