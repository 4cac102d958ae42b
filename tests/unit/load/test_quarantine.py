"""Quarantine entries keep the original record exactly, and land in vectorops.quarantine as written."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from vectorops.load import quarantine


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn) as connection:  # not autocommit: every test rolls back what it wrote
        yield connection
        connection.rollback()


def test_a_hostile_record_is_kept_exactly() -> None:
    record_id = "bad\x00id\ud800"
    rid, reason, payload = quarantine.entry(record_id, [1.5, float("nan"), float("inf")], "doc\x00ument",
                                            {"k": np.int64(3), "l": (1, 2), "f": np.float32(0.5)}, None, "why")
    assert reason == "why"
    assert rid == "bad\\u0000id\\ud800"  # what PostgreSQL text can hold, escaped as JSON escapes it
    payload.decode("ascii")  # every non-ASCII character is escaped
    original = json.loads(payload)
    assert original["id"] == record_id and original["document"] == "doc\x00ument" and original["uri"] is None
    assert original["metadata"] == {"k": 3, "l": [1, 2], "f": 0.5}
    assert original["embedding"][0] == 1.5 and np.isnan(original["embedding"][1])
    assert original["embedding"][2] == float("inf")


def test_a_record_without_embedding_and_a_plain_id() -> None:
    rid, _, payload = quarantine.entry("plain-ü", None, None, None, "s3://x", "no embedding")
    assert rid == "plain-ü"
    assert json.loads(payload) == {"id": "plain-ü", "embedding": None, "document": None, "metadata": None,
                                   "uri": "s3://x"}


def test_store_inserts_every_entry(conn: psycopg.Connection) -> None:
    collection, attempt = f"unit-quarantine-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    entries = [quarantine.entry("a", [1.0], None, None, None, "first"),
               quarantine.entry("b\x00", None, "d", {"x": 1}, None, "second")]
    quarantine.store(conn, collection=collection, attempt_id=attempt, run_id="run-q", entries=entries)
    rows = conn.execute("""SELECT record_id, reason, payload, attempt_id, run_id FROM vectorops.quarantine
                           WHERE collection = %s ORDER BY quarantine_id""", (collection,)).fetchall()
    assert [(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows] == \
        [(rid, reason, payload, attempt, "run-q") for rid, reason, payload in entries]


def test_store_of_nothing_writes_nothing(conn: psycopg.Connection) -> None:
    before = conn.execute("SELECT count(*) FROM vectorops.quarantine").fetchone()
    quarantine.store(conn, collection="none", attempt_id="x", run_id="y", entries=[])
    assert conn.execute("SELECT count(*) FROM vectorops.quarantine").fetchone() == before
