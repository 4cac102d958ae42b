"""Read-only access to a store's ``chroma.sqlite3``, and the log positions it records."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vectorops.chroma.files.versions import decode_seq_id


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only SQLite connection to ``path`` (``mode=ro``: the store is never written)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only = 1")
    return conn


def scalar(conn: sqlite3.Connection, query: str, params: Sequence[Any]) -> Any:
    """The first column of the first row of ``query``, or ``None``."""
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def applied_position(conn: sqlite3.Connection, segment: str) -> int | None:
    """The log position ``segment`` recorded in ``max_seq_id``, decoded, or ``None``."""
    value = scalar(conn, "SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment,))
    return None if value is None else decode_seq_id(value)


def newest_logged(conn: sqlite3.Connection, collection_id: str) -> int | None:
    """The newest log position of the collection (the log is read from its end, so this stops early)."""
    return scalar(conn, "SELECT seq_id FROM embeddings_queue WHERE topic LIKE ? ORDER BY seq_id DESC LIMIT 1",
                  (f"%/{collection_id}",))
