"""Migrating from a Chroma HTTP server (``chroma run`` on loopback) instead of a path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.chroma_run import chroma_run
from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest, registry_row
from vectorops.naming import table_name_for


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    path = tmp_path_factory.mktemp("chroma-http")
    col = chroma_client(path).create_collection("http-col", configuration={"hnsw": {"space": "ip"}})
    add_records(col, [f"h{i}" for i in range(700)], np.random.default_rng(9).standard_normal((700, 10),
                                                                                          dtype=np.float32),
                [f"http doc {i}" for i in range(700)], [{"i": i} for i in range(700)])
    with chroma_run(path) as port:
        yield path, port


def test_http_source_round_trips_exactly(chroma_server: tuple[Path, int], settings: Any, dsn: str) -> None:
    path, port = chroma_server
    summaries = migrate_in_process(settings, {"chroma_host": "127.0.0.1", "chroma_port": port,
                                              "target_schema": "http_src", "batch_size": 200}, "http-run")
    assert [s["collection"] for s in summaries] == ["http-col"]
    row = registry_row(dsn, "http-col")
    assert row["source_uri"] == f"chroma+http://127.0.0.1:{port}" and row["distance"] == "ip"
    assert pg_digest(dsn, "http_src", table_name_for("http-col")) == chroma_digest(path, "http-col")
