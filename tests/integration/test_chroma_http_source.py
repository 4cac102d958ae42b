"""Migrating from a Chroma HTTP server (``chroma run`` on loopback) instead of a path."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import add_records, chroma_client, chroma_digest, migrate_in_process, pg_digest, registry_row
from vectorops.naming import table_name_for


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    path = tmp_path_factory.mktemp("chroma-http")
    col = chroma_client(path).create_collection("http-col", configuration={"hnsw": {"space": "ip"}})
    add_records(col, [f"h{i}" for i in range(700)], np.random.default_rng(9).standard_normal((700, 10),
                                                                                          dtype=np.float32),
                [f"http doc {i}" for i in range(700)], [{"i": i} for i in range(700)])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "chroma run did not come up"
                time.sleep(0.3)
        yield path, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_http_source_round_trips_exactly(chroma_server: tuple[Path, int], settings: Any, dsn: str) -> None:
    path, port = chroma_server
    summaries = migrate_in_process(settings, {"chroma_host": "127.0.0.1", "chroma_port": port,
                                              "target_schema": "http_src", "batch_size": 200}, "http-run")
    assert [s["collection"] for s in summaries] == ["http-col"]
    row = registry_row(dsn, "http-col")
    assert row["source_uri"] == f"chroma+http://127.0.0.1:{port}" and row["distance"] == "ip"
    assert pg_digest(dsn, "http_src", table_name_for("http-col")) == chroma_digest(path, "http-col")
