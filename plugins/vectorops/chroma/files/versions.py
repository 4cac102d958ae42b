"""Which Chroma wrote a local store, told from the migrations in its ``chroma.sqlite3``.

Chroma records each schema migration it applies in the ``migrations`` table (``dir``, ``version``), every version
from 1 up to the newest it knows. The releases this package reads, and what differs between them on disk:

=============  ========================  =========================================================================
chromadb       migrations (newest)       what the files reader must know
=============  ========================  =========================================================================
0.4.16–0.4.24  embeddings_queue 1,       Python writer; log positions are 8-byte big-endian BLOBs; ``collections``
               metadb 3, sysdb 4         and ``segments`` carry a ``topic``; the vector segment's position is only in
                                         its pickled ``PersistentData`` (``max_seq_id``); the log is never purged
0.5.x–0.6.x    embeddings_queue 2,       Python writer; BLOB positions; the vector segment's position is in
               metadb 4, sysdb 9         ``max_seq_id``; ``config_json_str`` holds defaults the segment ignores
1.0.x–1.2.x    embeddings_queue 2,       Rust writer; INTEGER positions (``00005-max-seq-id-int``); the pickle is a
               metadb 5, sysdb 9         plain dict
1.3.x–1.4.x    + sysdb 10                ``collections.schema_str`` (the vector index configuration)
1.5.x          + metadb 6                list metadata (``embedding_metadata_array``)
=============  ========================  =========================================================================

(Sources: ``chromadb/migrations`` at tags 0.4.24, 0.5.18 and 0.6.3; ``rust/sqlite/migrations`` at every 1.x tag up
to 1.5.9: sysdb 10 first at 1.3.0, metadb 6 first at 1.5.0.)
"""

from __future__ import annotations

import sqlite3
from typing import Any

from vectorops.errors import FilesUnreadable

#: the newest migration of each kind that any release this package reads applies (chromadb 1.5.9)
KNOWN_MIGRATIONS = {"embeddings_queue": 2, "metadb": 6, "sysdb": 10}
#: the migrations each release family applies, as {dir: newest}; a store may also be between two of them
RELEASES: tuple[tuple[str, dict[str, int]], ...] = (
    ("0.4.16–0.4.24", {"embeddings_queue": 1, "metadb": 3, "sysdb": 4}),
    ("0.5–0.6", {"embeddings_queue": 2, "metadb": 4, "sysdb": 9}),
    ("1.0–1.2", {"embeddings_queue": 2, "metadb": 5, "sysdb": 9}),
    ("1.3–1.4", {"embeddings_queue": 2, "metadb": 5, "sysdb": 10}),
    ("1.5", {"embeddings_queue": 2, "metadb": 6, "sysdb": 10}),
)
#: the first migration a Rust (1.x) Chroma applies; a store without it was last written by Python Chroma (0.4–0.6)
RUST_MARKER = ("metadb", 5)
PYTHON, RUST = "python", "rust"


def applied_migrations(conn: sqlite3.Connection) -> dict[str, int]:
    """The newest migration of each kind the store records, as {dir: version}.

    :raises FilesUnreadable: when they are not the unbroken sequence 1..n Chroma applies.
    """
    rows = conn.execute("SELECT dir, version FROM migrations").fetchall()
    versions: dict[str, set[int]] = {}
    for kind, version in rows:
        versions.setdefault(str(kind), set()).add(int(version))
    newest = {kind: max(found) for kind, found in versions.items()}
    broken = sorted(kind for kind, found in versions.items() if found != set(range(1, newest[kind] + 1)))
    if broken:
        raise FilesUnreadable(f"its migrations of {', '.join(broken)} skip a version, which no Chroma does")
    return newest


def release_of(newest: dict[str, int]) -> str:
    """The chromadb release family whose migrations these are, e.g. ``0.5–0.6``, or a description of where between."""
    for release, migrations in RELEASES:
        if newest == migrations:
            return release
    return "a Chroma release between the ones this package was checked against"


def writer_of(newest: dict[str, int]) -> str:
    """:data:`RUST` when the store was last opened by a 1.x Chroma, else :data:`PYTHON` (0.4–0.6)."""
    kind, version = RUST_MARKER
    return RUST if newest.get(kind, 0) >= version else PYTHON


def decode_seq_id(value: Any) -> int:
    """A log position as stored: an INTEGER (1.x), or 8 or 24 big-endian bytes (0.4–0.6).

    :raises FilesUnreadable: on anything else.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, bytes | bytearray | memoryview) and len(value) in (8, 24):
        return int.from_bytes(bytes(value), "big")
    raise FilesUnreadable(f"a log position is stored as {value!r}, neither an integer nor 8 or 24 bytes")


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The column names of ``table`` (empty when there is no such table)."""
    return {row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (table,))}


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    """Whether ``chroma.sqlite3`` has ``table``."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() \
        is not None
