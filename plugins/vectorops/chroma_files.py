"""Read a local Chroma store straight from its files, with memory that does not grow with the collection.

Chroma's own client loads a collection's whole HNSW index (every vector and the graph) into memory on the
first ``count()`` or ``get()``, and a single ``get()`` of more than about 32,000 records fails on SQLite's
variable limit. A local persistent store (``chromadb.PersistentClient``, Chroma 1.x) keeps:

* ``chroma.sqlite3``: collections, segments, and the metadata segment: ids (``embeddings``), documents, uris
  and metadata values (``embedding_metadata``, list values in ``embedding_metadata_array``), and the write log
  (``embeddings_queue``) of records not yet applied to the segments;
* ``<vector segment id>/``: the hnswlib index: ``header.bin``, ``data_level0.bin`` (per element: links, the
  float32 vector, the label), ``length.bin`` (per element: the norm, for the cosine space, which stores unit
  vectors) and ``index_metadata.pickle`` (the id ↔ label maps).

This module reads those files: ids and their element positions in one streaming pass over the pickle (no
object is unpickled), vectors with ``pread`` by position, documents and metadata with indexed SQLite queries.
What it returns equals Chroma's ``get()`` bit for bit (the conformance tests check it, and every migration
cross-checks a sample against Chroma's own API).

It reads a store only when it recognises every part of it. :func:`open_collection` raises
:class:`FilesUnreadable` with the reason otherwise (another format version, writes still in the log, an
HTTP source), and :mod:`vectorops.chroma_source` then uses Chroma's API.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HNSW_SEGMENT = "urn:chroma:segment/vector/hnsw-local-persisted"
METADATA_SEGMENT = "urn:chroma:segment/metadata/sqlite"
DOCUMENT_KEY = "chroma:document"
URI_KEY = "chroma:uri"
HEADER_FORMAT = struct.Struct("<iQQQQQQiIQQQdQ")  # chroma-hnswlib persistence version 1
HEADER_VERSION = 1
ID_BATCH = 50_000
MAX_PENDING = 100_000
LOG_ADD, LOG_UPDATE, LOG_UPSERT, LOG_DELETE = 0, 1, 2, 3
FROM_LOG = -1  # the staged position of a record whose vector is only in the log


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


def _one(conn: sqlite3.Connection, query: str, params: Sequence[Any]) -> Any:
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
    applied = {s: _one(conn, "SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (s,))
               for s in (vector_segment, metadata_segment)}
    if any(v is None or not isinstance(v, int) for v in applied.values()):
        raise FilesUnreadable("a segment has no applied log position yet (fewer writes than its sync threshold)")
    newest = _one(conn, "SELECT max(seq_id) FROM embeddings_queue WHERE topic LIKE ?", (f"%/{collection_id}",))
    if newest is not None and newest > applied[metadata_segment]:
        raise FilesUnreadable(f"the metadata segment has not applied the log up to {newest} yet")
    pending = _one(conn, "SELECT count(*) FROM embeddings_queue WHERE topic LIKE ? AND seq_id > ?",
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
    newest = _one(conn, "SELECT max(seq_id) FROM embeddings_queue WHERE topic LIKE ?", (f"%/{collection_id}",))
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


def _locate(conn: sqlite3.Connection, root: Path, name: str, space: str, check_values: bool) -> StoreCollection:
    found = conn.execute(
        """SELECT c.id, c.dimension FROM collections c JOIN databases d ON d.id = c.database_id
           WHERE c.name = ? AND d.name = 'default_database' AND d.tenant_id = 'default_tenant'""", (name,)).fetchall()
    if len(found) != 1:
        raise FilesUnreadable(f"collection {name!r} is not in the default database")
    collection_id, dimensions = found[0]
    vector_segment, metadata_segment = _segments(conn, collection_id)
    vector_applied = _applied_positions(conn, collection_id, vector_segment, metadata_segment)
    count = int(_one(conn, "SELECT count(*) FROM embeddings WHERE segment_id = ?", (metadata_segment,)))
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
    if files[1].stat().st_size != header.element_count * header.element_bytes:
        raise FilesUnreadable(f"data_level0.bin has {files[1].stat().st_size} bytes, not {header.element_count} "
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
        return _one(conn, """SELECT count(*) FROM (SELECT 1 FROM embedding_metadata m JOIN embeddings e ON e.id = m.id
                             WHERE e.segment_id = ? AND m.key = ? LIMIT 1)""",
                    (collection.metadata_segment, DOCUMENT_KEY)) > 0
    finally:
        conn.close()


def _label_positions(collection: StoreCollection) -> np.ndarray:
    """``positions[label]`` = the element holding that label, or -1; read from ``data_level0.bin`` in blocks."""
    header = collection.header
    labels = np.empty(header.element_count, dtype=np.int64)
    per_block = max(1, (8 << 20) // header.element_bytes)
    with open(collection.segment_dir / "data_level0.bin", "rb") as handle:
        for start in range(0, header.element_count, per_block):
            count = min(per_block, header.element_count - start)
            block = np.frombuffer(handle.read(count * header.element_bytes), dtype=np.uint8)
            rows = block.reshape(count, header.element_bytes)
            labels[start:start + count] = rows[:, header.label_offset:header.label_offset + 8].copy().view("<i8")[:, 0]
    if header.element_count and (labels.min() < 0 or labels.max() > 4 * header.element_count + (1 << 20)):
        raise FilesUnreadable("data_level0.bin holds labels outside the expected range")
    positions = np.full(int(labels.max()) + 1 if header.element_count else 0, -1, dtype=np.int64)
    positions[labels] = np.arange(header.element_count, dtype=np.int64)
    return positions


class _PickleStream:
    """The ``id_to_label`` dict of ``index_metadata.pickle``, read opcode by opcode: nothing is unpickled.

    Knows the opcodes that serde-pickle and Python's pickle write for a dict of str → int at protocols 2–5.
    """

    def __init__(self, handle: Any) -> None:
        self.read = handle.read

    def _byte(self) -> int:
        data = self.read(1)
        if not data:
            raise FilesUnreadable("index_metadata.pickle ends early")
        return data[0]

    def _value(self, op: int) -> Any:
        """The scalar an opcode pushes (str, int or None), or raise for any other opcode."""
        read = self.read
        if op == 0x58:  # BINUNICODE
            return read(struct.unpack("<I", read(4))[0]).decode("utf-8", "surrogatepass")
        if op == 0x8C:  # SHORT_BINUNICODE
            return read(read(1)[0]).decode("utf-8", "surrogatepass")
        if op == 0x8D:  # BINUNICODE8
            return read(struct.unpack("<Q", read(8))[0]).decode("utf-8", "surrogatepass")
        if op == 0x4A:  # BININT
            return struct.unpack("<i", read(4))[0]
        if op == 0x4B:  # BININT1
            return read(1)[0]
        if op == 0x4D:  # BININT2
            return struct.unpack("<H", read(2))[0]
        if op == 0x8A:  # LONG1
            return int.from_bytes(read(read(1)[0]), "little", signed=True)
        if op == 0x4E:  # NONE
            return None
        raise FilesUnreadable(f"index_metadata.pickle has opcode 0x{op:02x} where a value was expected")

    def _skip_memo(self) -> int:
        """Skip MEMOIZE / BINPUT / LONG_BINPUT / FRAME opcodes; return the next other opcode."""
        while True:
            op = self._byte()
            if op == 0x94:  # MEMOIZE
                continue
            if op == 0x71:  # BINPUT
                self.read(1)
            elif op == 0x72:  # LONG_BINPUT
                self.read(4)
            elif op == 0x95:  # FRAME
                self.read(8)
            else:
                return op

    def id_to_label(self) -> Iterator[tuple[str, int]]:
        """Yield the (id, label) pairs of the top-level key ``id_to_label``."""
        if self._byte() != 0x80:
            raise FilesUnreadable("index_metadata.pickle is not a protocol 2+ pickle")
        self.read(1)
        if self._skip_memo() != 0x7D:  # EMPTY_DICT
            raise FilesUnreadable("index_metadata.pickle does not hold a dict")
        if self._skip_memo() != 0x28:  # MARK
            raise FilesUnreadable("index_metadata.pickle does not hold a dict built by SETITEMS")
        while True:
            op = self._skip_memo()
            key = self._value(op)
            op = self._skip_memo()
            if key != "id_to_label":
                self._value(op)  # a scalar field (dimensionality, total_elements_added, max_seq_id)
                continue
            if op != 0x7D:
                raise FilesUnreadable("id_to_label is not a dict")
            yield from self._dict_items()
            return

    def _dict_items(self) -> Iterator[tuple[str, int]]:
        op = self._skip_memo()
        while op == 0x28:  # MARK, then key/value pairs, then SETITEMS
            while True:
                op = self._skip_memo()
                if op == 0x75:  # SETITEMS
                    break
                key = self._value(op)
                label = self._value(self._skip_memo())
                if not isinstance(key, str) or not isinstance(label, int):
                    raise FilesUnreadable("id_to_label holds something other than str → int")
                yield key, label
            op = self._skip_memo()
        if op == 0x73:  # SETITEM: neither writer uses it for these dicts
            raise FilesUnreadable("id_to_label was written with SETITEM")
        # op is now the next key of the outer dict: the caller stops reading here


def log_overlay(collection: StoreCollection) -> dict[str, np.ndarray | None]:
    """Vector writes in the log after the segment files: id → its newest vector, or ``None`` when deleted.

    Read in log order, as Chroma applies them. An update without a vector leaves the vector alone.

    :raises FilesUnreadable: on an operation or vector encoding this reader does not know.
    """
    conn = connect_readonly(collection.sqlite_path)
    try:
        rows = conn.execute(
            """SELECT operation, id, vector, encoding FROM embeddings_queue
               WHERE topic LIKE ? AND seq_id > ? ORDER BY seq_id""",
            (f"%/{collection.collection_id}", collection.vector_applied)).fetchall()
    finally:
        conn.close()
    overlay: dict[str, np.ndarray | None] = {}
    for operation, record_id, vector, encoding in rows:
        if operation == LOG_DELETE:
            overlay[record_id] = None
            continue
        if operation not in (LOG_ADD, LOG_UPDATE, LOG_UPSERT):
            raise FilesUnreadable(f"the log holds operation {operation!r}, which this reader does not know")
        if vector is None:
            continue
        if encoding != "FLOAT32" or len(vector) != 4 * collection.dimensions:
            raise FilesUnreadable(f"the log holds a vector encoded as {encoding!r} with {len(vector)} bytes")
        values = np.frombuffer(vector, dtype="<f4").astype(np.float32)
        overlay[record_id] = _as_indexed(values) if collection.space == "cosine" else values
    return overlay


def _as_indexed(vector: np.ndarray) -> np.ndarray:
    """A cosine vector as Chroma's ``get()`` returns it once indexed: hnswlib's unit vector times its norm.

    hnswlib sums the squares in float32 in order, scales by ``1 / (sqrt + 1e-30)`` and stores the norm; repeating
    exactly that keeps every bit equal to ``get()``.
    """
    squares = np.add.accumulate(vector * vector, dtype=np.float32)
    norm = np.sqrt(squares[-1] if squares.size else np.float32(0)).astype(np.float32)
    inverse = np.float32(1) / (norm + np.float32(1e-30))
    return ((vector * inverse).astype(np.float32) * norm).astype(np.float32)


def iter_id_positions(collection: StoreCollection, batch: int = ID_BATCH) -> Iterator[tuple[list[str], np.ndarray]]:
    """Every id of the collection with the position of its element in ``data_level0.bin``, a batch at a time.

    Memory: one ``int64`` per element for the label → position map, and one batch.

    :raises FilesUnreadable: when a label has no element, or the number of ids differs from the metadata
        segment's count.
    """
    positions = _label_positions(collection)
    overlay = log_overlay(collection)
    seen = 0
    in_files: set[str] = set()
    with open(collection.segment_dir / "index_metadata.pickle", "rb", buffering=1 << 20) as handle:
        ids: list[str] = []
        labels: list[int] = []
        for record_id, label in _PickleStream(handle).id_to_label():
            if record_id in overlay:
                in_files.add(record_id)
                if overlay[record_id] is None:
                    continue  # deleted after the files were written
            ids.append(record_id)
            labels.append(label)
            if len(ids) == batch:
                yield ids, _positions_of(positions, labels)
                seen += len(ids)
                ids, labels = [], []
        if ids:
            yield ids, _positions_of(positions, labels)
            seen += len(ids)
    added = [i for i, vector in overlay.items() if vector is not None and i not in in_files]
    for start in range(0, len(added), batch):
        page = added[start:start + batch]
        yield page, np.full(len(page), FROM_LOG, dtype=np.int64)
        seen += len(page)
    if seen != collection.count:
        raise FilesUnreadable(f"the HNSW segment and the log list {seen} ids, the metadata segment {collection.count}")


def _positions_of(positions: np.ndarray, labels: list[int]) -> np.ndarray:
    wanted = np.asarray(labels, dtype=np.int64)
    if wanted.size and (wanted.min() < 0 or wanted.max() >= positions.size):
        raise FilesUnreadable("index_metadata.pickle has a label with no element in data_level0.bin")
    found = positions[wanted]
    if found.size and found.min() < 0:
        raise FilesUnreadable("index_metadata.pickle has a label with no element in data_level0.bin")
    return found


class StoreReader:
    """Reads records of one collection by id and element position. Not thread-safe: one per thread."""

    def __init__(self, collection: StoreCollection) -> None:
        self.collection = collection
        self._data = os.open(collection.segment_dir / "data_level0.bin", os.O_RDONLY)
        self._lengths = os.open(collection.segment_dir / "length.bin", os.O_RDONLY)
        self._db = connect_readonly(collection.sqlite_path)
        self._arrays = bool(_one(self._db, "SELECT count(*) FROM sqlite_master WHERE name = ?",
                                 ("embedding_metadata_array",)))
        self._overlay = log_overlay(collection)

    def close(self) -> None:
        """Close the files and the SQLite connection."""
        os.close(self._data)
        os.close(self._lengths)
        self._db.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def vectors(self, positions: Sequence[int], ids: Sequence[str]) -> np.ndarray:
        """The float32 vectors of ``ids`` (at element ``positions``), as Chroma's ``get()`` returns them.

        A vector written to the log after the files (position :data:`FROM_LOG`, or an update) comes from the log.

        :raises FilesUnreadable: when an element is marked deleted, or a log vector is gone.
        """
        header = self.collection.header
        dims = self.collection.dimensions
        size = header.element_bytes
        in_files = [i for i, p in enumerate(positions) if p != FROM_LOG]
        raw = b"".join(os.pread(self._data, size, int(positions[i]) * size) for i in in_files)
        if len(raw) != size * len(in_files):
            raise FilesUnreadable("data_level0.bin is shorter than its element count")
        rows = np.frombuffer(raw, dtype=np.uint8).reshape(len(in_files), size)
        if len(in_files) and rows[:, 2].any():  # hnswlib's delete mark: byte 2 of the level-0 link count
            raise FilesUnreadable("an element staged for loading is marked deleted in data_level0.bin")
        stored = rows[:, header.data_offset:header.data_offset + 4 * dims].copy().view("<f4")
        if self.collection.space == "cosine" and in_files:
            norms = np.frombuffer(b"".join(os.pread(self._lengths, 4, int(positions[i]) * 4) for i in in_files),
                                  dtype="<f4")
            stored = stored * norms[:, None]  # float32 × float32, as Chroma rebuilds them
        vectors = np.empty((len(positions), dims), dtype=np.float32)
        vectors[in_files] = stored
        for i, record_id in enumerate(ids):
            if record_id in self._overlay or positions[i] == FROM_LOG:
                logged = self._overlay.get(record_id)
                if logged is None:
                    raise FilesUnreadable(f"record {record_id!r} has no vector in the files or the log")
                vectors[i] = logged
        return vectors

    def fields(self, ids: Sequence[str]) -> tuple[list[str | None], list[dict[str, Any] | None], list[str | None]]:
        """Documents, metadatas and uris of ``ids``, in their order.

        :raises KeyError: naming the first id the metadata segment does not have.
        """
        wanted = json.dumps(list(ids))
        segment = self.collection.metadata_segment
        index = {record_id: i for i, record_id in enumerate(ids)}
        documents: list[str | None] = [None] * len(ids)
        uris: list[str | None] = [None] * len(ids)
        metadatas: list[dict[str, Any] | None] = [None] * len(ids)
        present = [False] * len(ids)
        rows = self._db.execute(
            """SELECT e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value
               FROM embeddings e LEFT JOIN embedding_metadata m ON m.id = e.id
               WHERE e.segment_id = ? AND e.embedding_id IN (SELECT value FROM json_each(?))""", (segment, wanted))
        for record_id, key, text, number, real, flag in rows:
            i = index[record_id]
            present[i] = True
            if key is None:
                continue
            value = text if text is not None else number if number is not None else real if real is not None \
                else bool(flag)
            if key == DOCUMENT_KEY:
                documents[i] = value
                continue
            meta = metadatas[i]
            if meta is None:  # as Chroma does: a uri without metadata gives {}, a document alone gives None
                meta = metadatas[i] = {}
            if key == URI_KEY:
                uris[i] = value
            else:
                meta[key] = value
        if not all(present):
            raise KeyError(ids[present.index(False)])
        if self._arrays:
            self._add_arrays(ids, index, metadatas, segment, wanted)
        return documents, metadatas, uris

    def _add_arrays(self, ids: Sequence[str], index: dict[str, int], metadatas: list[dict[str, Any] | None],
                    segment: str, wanted: str) -> None:
        rows = self._db.execute(
            """SELECT e.embedding_id, a.key, a.string_value, a.int_value, a.float_value, a.bool_value
               FROM embeddings e JOIN embedding_metadata_array a ON a.id = e.id
               WHERE e.segment_id = ? AND e.embedding_id IN (SELECT value FROM json_each(?))
               ORDER BY a.rowid""", (segment, wanted))
        for record_id, key, text, number, real, flag in rows:
            i = index[record_id]
            value = text if text is not None else number if number is not None else real if real is not None \
                else bool(flag) if flag is not None else None
            if value is None:
                raise FilesUnreadable(f"list metadata {key!r} of record {record_id!r} has an element with no value")
            meta = metadatas[i]
            if meta is None:
                meta = metadatas[i] = {}
            values = meta.setdefault(key, [])
            if not isinstance(values, list):
                raise FilesUnreadable(f"metadata {key!r} of record {record_id!r} is both a value and a list")
            values.append(value)
