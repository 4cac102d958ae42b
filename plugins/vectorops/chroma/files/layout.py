"""Where a collection of a local Chroma store lives in its files, checked part by part, for chromadb 0.4 to 1.5.

A local persistent store keeps:

* ``chroma.sqlite3``: tenants, databases, collections, segments, and the metadata segment: ids (``embeddings``),
  documents, uris and metadata values (``embedding_metadata``, list values in ``embedding_metadata_array`` from
  1.5), the write log (``embeddings_queue``) and each segment's applied log position (``max_seq_id``);
* ``<vector segment id>/``: the hnswlib index: ``header.bin``, ``data_level0.bin`` (per element: links, the
  float32 vector, the label), ``length.bin`` (per element: the norm; the cosine space stores unit vectors) and
  ``index_metadata.pickle`` (the id ↔ label maps, :mod:`vectorops.chroma.files.hnsw_pickle`).

The differences between versions (:mod:`vectorops.chroma.files.versions`) are handled here: log positions stored as
BLOBs before 1.0, the vector segment's position kept only in the pickle in 0.4, and a vector segment that was
never flushed (fewer writes than its ``sync_threshold``, or an empty collection): it has no pickle, and its
records are read from the log alone (:mod:`vectorops.chroma.files.write_log`), as Chroma rebuilds them when it
opens the store.

:func:`open_collection` locates a collection and raises :class:`FilesUnreadable` with the reason when any part is
not in a layout :mod:`vectorops.chroma.files.reader` knows how to read.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorops.chroma.files.hnsw import PICKLE, HnswHeader, checked_header
from vectorops.chroma.files.hnsw_pickle import read_header
from vectorops.chroma.files.sqlite_read import applied_position, connect_readonly, newest_logged, scalar
from vectorops.chroma.files.stamps import current_stamp, hnsw_stamp, stamp_of
from vectorops.chroma.files.versions import (
    PYTHON,
    applied_migrations,
    columns,
    has_table,
    writer_of,
)
from vectorops.chroma.preflight import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionRef, as_ref
from vectorops.errors import FilesSettling, FilesUnreadable

__all__ = ["PICKLE", "HnswHeader", "StoreCollection", "connect_readonly", "current_stamp",
           "has_documents", "hnsw_stamp", "open_collection", "scalar"]

HNSW_SEGMENT = "urn:chroma:segment/vector/hnsw-local-persisted"
METADATA_SEGMENT = "urn:chroma:segment/metadata/sqlite"
DOCUMENT_KEY = "chroma:document"
URI_KEY = "chroma:uri"
MAX_PENDING = 100_000
#: chromadb 0.4–0.6's default ``hnsw:batch_size``: how many log records its vector segment buffers
DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class StoreCollection:
    """One collection of a local store, located in its files.

    :param header: the HNSW files' header, or ``None`` when the vector segment holds nothing yet (never flushed,
        or empty): every vector is then read from the log.
    :param vector_applied: the log position the HNSW files hold (0 when they hold none); later writes are read
        from the log.
    :param writer: ``python`` (chromadb 0.4–0.6) or ``rust`` (1.x): how Chroma replays the log and returns records.
    :param batch_size: the vector segment's ``hnsw:batch_size`` (what a Python Chroma buffers before indexing).
    """

    path: Path
    name: str
    collection_id: str
    space: str
    dimensions: int
    count: int
    metadata_segment: str
    segment_dir: Path
    header: HnswHeader | None
    stamp: str
    vector_applied: int = 0
    writer: str = "rust"
    batch_size: int = DEFAULT_BATCH_SIZE
    tenant: str = DEFAULT_TENANT
    database: str = DEFAULT_DATABASE

    @property
    def ref(self) -> CollectionRef:
        """The collection's identity in its store."""
        return CollectionRef(self.tenant, self.database, self.name)

    @property
    def vector_segment(self) -> str:
        """Id of the HNSW segment (its directory name)."""
        return self.segment_dir.name

    @property
    def sqlite_path(self) -> Path:
        """``chroma.sqlite3`` of the store."""
        return self.path / "chroma.sqlite3"

    @property
    def in_files(self) -> bool:
        """Whether the HNSW files hold records (else every vector is in the log)."""
        return self.header is not None

    @property
    def topic_pattern(self) -> str:
        """``LIKE`` pattern of the collection's log topic (``persistent://<tenant>/<namespace>/<collection id>``)."""
        return f"%/{self.collection_id}"


def _segments(conn: sqlite3.Connection, collection_id: str) -> tuple[str, str]:
    rows = conn.execute("SELECT id, type FROM segments WHERE collection = ?", (collection_id,)).fetchall()
    types = sorted(t for _, t in rows)
    if types != sorted([HNSW_SEGMENT, METADATA_SEGMENT]):
        raise FilesUnreadable(f"its segments are {types}, not one local HNSW and one SQLite metadata segment")
    by_type = {t: s for s, t in rows}
    return by_type[HNSW_SEGMENT], by_type[METADATA_SEGMENT]


def _vector_applied(conn: sqlite3.Connection, collection_id: str, vector_segment: str, metadata_segment: str,
                    pickled: int | None) -> int:
    """The log position the HNSW files hold: ``max_seq_id`` (0.5 on), else the pickle's (0.4), else none (0).

    :raises FilesUnreadable: when the metadata segment is behind the log, or more writes wait in the log than
        this reader keeps in memory.
    """
    applied = applied_position(conn, vector_segment)
    if applied is None:
        applied = pickled or 0
    newest = newest_logged(conn, collection_id)
    metadata_applied = applied_position(conn, metadata_segment)
    if newest is not None and (metadata_applied is None or newest > metadata_applied):
        raise FilesSettling(f"the metadata segment has not applied the log up to {newest} yet")
    pending = scalar(conn, "SELECT count(*) FROM embeddings_queue WHERE seq_id > ? AND topic LIKE ?",
                     (applied, f"%/{collection_id}"))
    if pending > MAX_PENDING:
        raise FilesUnreadable(f"{pending} vector writes wait in the log (this reader keeps at most {MAX_PENDING})")
    return applied


def _check_values(conn: sqlite3.Connection, metadata_segment: str) -> None:
    """Refuse metadata this reader would not return exactly as Chroma does.

    One sequential scan of ``embedding_metadata`` finds the odd rows of every collection, and only those are looked
    up in this collection's segment: joining each row to ``embeddings`` first took 6 s at 1,000,000 records (five
    metadata rows each), the scan 1 to 2 s.
    """
    flag = "m.bool_value IS NULL" if "bool_value" in columns(conn, "embedding_metadata") else "1"
    odd = conn.execute(
        f"""SELECT m.id, m.key FROM embedding_metadata m NOT INDEXED
           WHERE (m.key LIKE 'chroma:%' AND m.key NOT IN (?, ?))
              OR (m.string_value IS NULL AND m.int_value IS NULL AND m.float_value IS NULL AND {flag})""",  # noqa: S608 (a fixed fragment)
        (DOCUMENT_KEY, URI_KEY))
    for row_id, key in odd:
        if conn.execute("SELECT 1 FROM embeddings WHERE id = ? AND segment_id = ?",
                        (row_id, metadata_segment)).fetchone() is not None:
            raise FilesUnreadable(f"metadata key {key!r} is reserved or has no value")


def open_collection(path: str | Path, ref: CollectionRef | str, space: str,
                    check_values: bool = True) -> StoreCollection:
    """Locate collection ``ref`` of the local store at ``path`` in its files, checking everything it reads.

    :param ref: the collection's tenant, database and name; a plain name is looked up in the default tenant and
        database.
    :param space: the collection's distance space (``cosine`` stores unit vectors and their norms).
    :param check_values: scan every metadata value for ones this reader would not return as Chroma does (about
        10 s per million records); a caller whose files carry a stamp checked this way before can skip it.
    :raises FilesUnreadable: when any part is missing or not in a known layout; the caller uses the API.
    """
    root = Path(path)
    if not (root / "chroma.sqlite3").is_file():
        raise FilesUnreadable(f"{root} has no chroma.sqlite3")
    try:
        conn = connect_readonly(root / "chroma.sqlite3")
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"chroma.sqlite3 cannot be opened read-only: {exc}") from exc
    try:
        with conn:
            return _locate(conn, root, as_ref(ref), space, check_values)
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"chroma.sqlite3 is not in a known layout: {exc}") from exc
    finally:
        conn.close()


def _find(conn: sqlite3.Connection, ref: CollectionRef) -> tuple[str, Any]:
    """The id and recorded dimension of the collection ``ref``."""
    if "database_id" in columns(conn, "collections") and has_table(conn, "databases"):
        found = conn.execute(
            """SELECT c.id, c.dimension FROM collections c JOIN databases d ON d.id = c.database_id
               WHERE c.name = ? AND d.name = ? AND d.tenant_id = ?""", (ref.name, ref.database, ref.tenant)).fetchall()
    elif ref.is_default:  # before tenants and databases (chromadb < 0.4.16): every collection is in the defaults
        found = conn.execute("SELECT id, dimension FROM collections WHERE name = ?", (ref.name,)).fetchall()
    else:
        found = []
    if len(found) != 1:
        raise FilesUnreadable(f"collection {ref.name!r} is not in tenant {ref.tenant!r}, database {ref.database!r}")
    return str(found[0][0]), found[0][1]


def _batch_size(conn: sqlite3.Connection, vector_segment: str) -> int:
    """The vector segment's ``hnsw:batch_size`` (chromadb 0.4–0.6 keep it in the segment's metadata)."""
    value = scalar(conn, "SELECT int_value FROM segment_metadata WHERE segment_id = ? AND key = 'hnsw:batch_size'",
                   (vector_segment,))
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_BATCH_SIZE


def _locate(conn: sqlite3.Connection, root: Path, ref: CollectionRef, space: str,
            check_values: bool) -> StoreCollection:
    writer = writer_of(applied_migrations(conn))
    collection_id, dimensions = _find(conn, ref)
    vector_segment, metadata_segment = _segments(conn, collection_id)
    count = int(scalar(conn, "SELECT count(*) FROM embeddings WHERE segment_id = ?", (metadata_segment,)))
    if dimensions is None and count == 0:
        dimensions = 0  # never written: Chroma records the dimension with the first vector
    if not isinstance(dimensions, int) or dimensions < 0:
        raise FilesUnreadable(f"the collection records dimension {dimensions!r}")
    segment_dir = root / vector_segment
    pickled = read_header(segment_dir / PICKLE) if (segment_dir / PICKLE).is_file() else None
    # Chroma loads the HNSW files only when the pickle lists ids; otherwise it rebuilds the index from the log
    in_files = pickled is not None and pickled.has_ids
    vector_applied = _vector_applied(conn, collection_id, vector_segment, metadata_segment,
                                     pickled.max_seq_id if pickled is not None else None)
    header = checked_header(segment_dir, dimensions) if in_files else None
    if check_values:
        _check_values(conn, metadata_segment)
    return StoreCollection(path=root, name=ref.name, tenant=ref.tenant, database=ref.database,
                           collection_id=collection_id, space=space, dimensions=dimensions, count=count,
                           metadata_segment=metadata_segment, segment_dir=segment_dir, header=header,
                           stamp=stamp_of(conn, segment_dir, metadata_segment, collection_id),
                           vector_applied=vector_applied, writer=writer,
                           batch_size=_batch_size(conn, vector_segment) if writer == PYTHON else DEFAULT_BATCH_SIZE)


def has_documents(collection: StoreCollection) -> bool:
    """Whether any record of the collection has a document (an empty one counts)."""
    conn = connect_readonly(collection.sqlite_path)
    try:
        return scalar(conn, """SELECT count(*) FROM (SELECT 1 FROM embedding_metadata m JOIN embeddings e ON e.id = m.id
                             WHERE e.segment_id = ? AND m.key = ? LIMIT 1)""",
                      (collection.metadata_segment, DOCUMENT_KEY)) > 0
    finally:
        conn.close()
