"""Where a collection of a local Chroma store lives in its files, checked part by part.

A local persistent store (``chromadb.PersistentClient``, Chroma 1.x) keeps:

* ``chroma.sqlite3``: collections, segments, and the metadata segment: ids (``embeddings``), documents, uris
  and metadata values (``embedding_metadata``, list values in ``embedding_metadata_array``), and the write log
  (``embeddings_queue``) of records not yet applied to the segments;
* ``<vector segment id>/``: the hnswlib index: ``header.bin``, ``data_level0.bin`` (per element: links, the
  float32 vector, the label), ``length.bin`` (per element: the norm, for the cosine space, which stores unit
  vectors) and ``index_metadata.pickle`` (the id ↔ label maps).

:func:`open_collection` locates a collection and raises :class:`FilesUnreadable` with the reason when any part
is not in a layout :mod:`vectorops.chroma_files` knows how to read.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HNSW_SEGMENT = "urn:chroma:segment/vector/hnsw-local-persisted"
METADATA_SEGMENT = "urn:chroma:segment/metadata/sqlite"
DOCUMENT_KEY = "chroma:document"
URI_KEY = "chroma:uri"
HEADER_FORMAT = struct.Struct("<iQQQQQQiIQQQdQ")  # chroma-hnswlib persistence version 1
HEADER_VERSION = 1
MAX_PENDING = 100_000


class FilesUnreadable(Exception):
    """The store's files are not in a layout this reader knows; the message says which part and why."""


@dataclass(frozen=True)
class HnswHeader:
    """The fields of an hnswlib ``header.bin`` (Chroma's persistence format, version 1)."""

    version: int
    offset_level0: int
    max_elements: int
    element_count: int
    element_bytes: int
    label_offset: int
    data_offset: int
    max_level: int
    entry_point: int
    max_m: int
    max_m0: int
    m: int
    mult: float
    ef_construction: int

    @classmethod
    def parse(cls, raw: bytes) -> HnswHeader:
        """Parse ``header.bin``.

        :raises FilesUnreadable: on another size or version.
        """
        if len(raw) != HEADER_FORMAT.size:
            raise FilesUnreadable(f"header.bin has {len(raw)} bytes, expected {HEADER_FORMAT.size}")
        header = cls(*HEADER_FORMAT.unpack(raw))
        if header.version != HEADER_VERSION:
            raise FilesUnreadable(f"header.bin is persistence version {header.version}, this reader knows "
                                  f"version {HEADER_VERSION}")
        return header


@dataclass(frozen=True)
class StoreCollection:
    """One collection of a local store, located in its files."""

    path: Path
    name: str
    collection_id: str
    space: str
    dimensions: int
    count: int
    metadata_segment: str
    segment_dir: Path
    header: HnswHeader
    stamp: str
    vector_applied: int = 0

    @property
    def vector_segment(self) -> str:
        """Id of the HNSW segment (its directory name)."""
        return self.segment_dir.name

    @property
    def sqlite_path(self) -> Path:
        """``chroma.sqlite3`` of the store."""
        return self.path / "chroma.sqlite3"


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only SQLite connection to ``path`` (``mode=ro``: the store is never written)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only = 1")
    return conn


def scalar(conn: sqlite3.Connection, query: str, params: Sequence[Any]) -> Any:
    """The first column of the first row of ``query``, or ``None``."""
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def _segments(conn: sqlite3.Connection, collection_id: str) -> tuple[str, str]:
    rows = conn.execute("SELECT id, type FROM segments WHERE collection = ?", (collection_id,)).fetchall()
    types = sorted(t for _, t in rows)
    if types != sorted([HNSW_SEGMENT, METADATA_SEGMENT]):
        raise FilesUnreadable(f"its segments are {types}, not one local HNSW and one SQLite metadata segment")
    by_type = {t: s for s, t in rows}
    return by_type[HNSW_SEGMENT], by_type[METADATA_SEGMENT]


def _applied_positions(conn: sqlite3.Connection, collection_id: str, vector_segment: str,
                       metadata_segment: str) -> int:
    """The log position the vector segment's files hold; writes after it are read from the log itself.

    :raises FilesUnreadable: when the vector segment was never flushed, the metadata segment is behind the log,
        or more writes wait in the log than this reader keeps in memory.
    """
    applied = {s: scalar(conn, "SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (s,))
               for s in (vector_segment, metadata_segment)}
    if any(v is None or not isinstance(v, int) for v in applied.values()):
        raise FilesUnreadable("a segment has no applied log position yet (fewer writes than its sync threshold)")
    newest = scalar(conn, "SELECT max(seq_id) FROM embeddings_queue WHERE topic LIKE ?", (f"%/{collection_id}",))
    if newest is not None and newest > applied[metadata_segment]:
        raise FilesUnreadable(f"the metadata segment has not applied the log up to {newest} yet")
    pending = scalar(conn, "SELECT count(*) FROM embeddings_queue WHERE topic LIKE ? AND seq_id > ?",
                   (f"%/{collection_id}", applied[vector_segment]))
    if pending > MAX_PENDING:
        raise FilesUnreadable(f"{pending} vector writes wait in the log (this reader keeps at most {MAX_PENDING})")
    return int(applied[vector_segment])


SEGMENT_FILES = ("header.bin", "data_level0.bin", "length.bin", "index_metadata.pickle")


def _stamp(conn: sqlite3.Connection, segment_dir: Path, metadata_segment: str, collection_id: str) -> str:
    """Identity of the segment files (size, modification time) and the applied log positions.

    Two reads of the same unchanged store give the same stamp; any write to the collection changes it.
    """
    parts = [f"{n}:{(segment_dir / n).stat().st_size}:{(segment_dir / n).stat().st_mtime_ns}" for n in SEGMENT_FILES]
    applied = conn.execute("SELECT segment_id, seq_id FROM max_seq_id WHERE segment_id IN (?, ?) ORDER BY segment_id",
                           (segment_dir.name, metadata_segment)).fetchall()
    newest = scalar(conn, "SELECT max(seq_id) FROM embeddings_queue WHERE topic LIKE ?", (f"%/{collection_id}",))
    return hashlib.sha256(json.dumps([parts, applied, newest]).encode()).hexdigest()[:32]


def _check_values(conn: sqlite3.Connection, metadata_segment: str) -> None:
    """Refuse metadata this reader would not return exactly as Chroma does."""
    odd = conn.execute(
        """SELECT m.key FROM embedding_metadata m JOIN embeddings e ON e.id = m.id
           WHERE e.segment_id = ? AND ((m.key LIKE 'chroma:%' AND m.key NOT IN (?, ?))
              OR (m.string_value IS NULL AND m.int_value IS NULL AND m.float_value IS NULL
                  AND m.bool_value IS NULL)) LIMIT 1""", (metadata_segment, DOCUMENT_KEY, URI_KEY)).fetchone()
    if odd is not None:
        raise FilesUnreadable(f"metadata key {odd[0]!r} is reserved or has no value")


def open_collection(path: str | Path, name: str, space: str, check_values: bool = True) -> StoreCollection:
    """Locate collection ``name`` of the local store at ``path`` in its files, checking everything it reads.

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
            return _locate(conn, root, name, space, check_values)
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"chroma.sqlite3 is not in a known layout: {exc}") from exc
    finally:
        conn.close()


def _locate(conn: sqlite3.Connection, root: Path, ref: Any, space: str, check_values: bool) -> StoreCollection:
    from vectorops.chroma_store import CollectionRef

    ref = ref if isinstance(ref, CollectionRef) else CollectionRef.parse(ref)
    name = ref.name
    found = conn.execute(
        """SELECT c.id, c.dimension FROM collections c JOIN databases d ON d.id = c.database_id
           WHERE c.name = ? AND d.name = ? AND d.tenant_id = ?""", (ref.name, ref.database, ref.tenant)).fetchall()
    if len(found) != 1:
        raise FilesUnreadable(f"collection {ref.label!r} is not in the store")
    collection_id, dimensions = found[0]
    vector_segment, metadata_segment = _segments(conn, collection_id)
    vector_applied = _applied_positions(conn, collection_id, vector_segment, metadata_segment)
    count = int(scalar(conn, "SELECT count(*) FROM embeddings WHERE segment_id = ?", (metadata_segment,)))
    segment_dir = root / vector_segment
    files = [segment_dir / n for n in SEGMENT_FILES]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FilesUnreadable(f"the HNSW segment {vector_segment} lacks {', '.join(missing)}")
    header = HnswHeader.parse(files[0].read_bytes())
    if not isinstance(dimensions, int) or dimensions < 1:
        raise FilesUnreadable(f"the collection records dimension {dimensions!r}")
    expected = (4 + 4 * header.max_m0, 4 + 4 * header.max_m0 + 4 * dimensions,
                4 + 4 * header.max_m0 + 4 * dimensions + 8)
    if (header.offset_level0, header.data_offset, header.label_offset, header.element_bytes) != (0, *expected):
        raise FilesUnreadable(f"header.bin describes elements of {header.element_bytes} bytes, not the layout of "
                              f"{dimensions} dimensions")
    # hnswlib may write the whole allocated capacity (max_elements); elements past element_count are never read
    size = files[1].stat().st_size
    capacity = max(header.max_elements, header.element_count)
    if size % header.element_bytes or not header.element_count <= size // header.element_bytes <= capacity:
        raise FilesUnreadable(f"data_level0.bin has {size} bytes, not {header.element_count} to {capacity} "
                              f"elements of {header.element_bytes}")
    if files[2].stat().st_size < 4 * header.element_count:
        raise FilesUnreadable("length.bin is shorter than the element count")
    if check_values:
        _check_values(conn, metadata_segment)
    return StoreCollection(path=root, name=name, collection_id=collection_id, space=space, dimensions=dimensions,
                           count=count, metadata_segment=metadata_segment, segment_dir=segment_dir, header=header,
                           stamp=_stamp(conn, segment_dir, metadata_segment, collection_id),
                           vector_applied=vector_applied)


def current_stamp(collection: StoreCollection) -> str:
    """The stamp the collection's files have now; differs from ``collection.stamp`` after any write."""
    conn = connect_readonly(collection.sqlite_path)
    try:
        return _stamp(conn, collection.segment_dir, collection.metadata_segment, collection.collection_id)
    except (OSError, sqlite3.Error):
        return "unreadable"
    finally:
        conn.close()


def has_documents(collection: StoreCollection) -> bool:
    """Whether any record of the collection has a document (an empty one counts)."""
    conn = connect_readonly(collection.sqlite_path)
    try:
        return scalar(conn, """SELECT count(*) FROM (SELECT 1 FROM embedding_metadata m JOIN embeddings e ON e.id = m.id
                             WHERE e.segment_id = ? AND m.key = ? LIMIT 1)""",
                    (collection.metadata_segment, DOCUMENT_KEY)) > 0
    finally:
        conn.close()
