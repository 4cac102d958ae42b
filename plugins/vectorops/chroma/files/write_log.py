"""Writes still in a Chroma store's log, after the HNSW files were last flushed, as Chroma's ``get()`` returns them.

Chroma flushes its HNSW segment every ``sync_threshold`` writes (1,000 by default), so almost every store has some
vector writes only in ``embeddings_queue``, and a collection with fewer writes than that has all of them there.
When Chroma opens the store it replays those writes into its vector segment, and what ``get()`` then returns
depends on the Chroma that replays them:

* chromadb 1.x adds every replayed vector to its HNSW index: a cosine vector comes back as hnswlib's unit vector
  times its norm (``local_hnsw.rs``, ``apply_log_chunk``);
* chromadb 0.4–0.6 buffer writes in a batch of ``hnsw:batch_size`` and index the batch when it is full
  (``local_persistent_hnsw.py``, ``_write_records``): a vector still in the unfinished batch comes back as written,
  one in an indexed batch as hnswlib returns it. 0.5 and 0.6 count every log record towards the batch; 0.4
  counts the distinct ids written or deleted in it (``batch.py``, ``Batch.__len__``).

Both ignore an add of an id the segment already holds and an update of one it does not. :func:`log_overlay`
replays the log the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from vectorops.chroma.files.hnsw_pickle import labels_of
from vectorops.chroma.files.layout import PICKLE, StoreCollection, connect_readonly
from vectorops.chroma.files.versions import PYTHON
from vectorops.errors import FilesUnreadable

LOG_ADD, LOG_UPDATE, LOG_UPSERT, LOG_DELETE = 0, 1, 2, 3
Overlay = dict[str, np.ndarray | None]


@dataclass(frozen=True)
class LogWrite:
    """One record of the write log."""

    seq_id: int
    operation: int
    record_id: str
    vector: np.ndarray | None


def read_log(collection: StoreCollection) -> list[LogWrite]:
    """The collection's log records after the position its HNSW files hold, in log order.

    :raises FilesUnreadable: on an operation or vector encoding this reader does not know.
    """
    conn = connect_readonly(collection.sqlite_path)
    try:
        rows = conn.execute(
            """SELECT seq_id, operation, id, vector, encoding FROM embeddings_queue
               WHERE seq_id > ? AND topic LIKE ? ORDER BY seq_id""",
            (collection.vector_applied, collection.topic_pattern)).fetchall()
    finally:
        conn.close()
    writes = []
    for seq_id, operation, record_id, vector, encoding in rows:
        if operation not in (LOG_ADD, LOG_UPDATE, LOG_UPSERT, LOG_DELETE):
            raise FilesUnreadable(f"the log holds operation {operation!r}, which this reader does not know")
        values = None
        if vector is not None and operation != LOG_DELETE:
            if encoding != "FLOAT32" or len(vector) != 4 * collection.dimensions:
                raise FilesUnreadable(f"the log holds a vector encoded as {encoding!r} with {len(vector)} bytes")
            values = np.frombuffer(vector, dtype="<f4").astype(np.float32)
        writes.append(LogWrite(seq_id, operation, str(record_id), values))
    return writes


def log_overlay(collection: StoreCollection) -> Overlay:
    """Vector writes in the log after the segment files: id → the vector ``get()`` returns, or ``None`` when the
    id is no longer in the vector segment. Ids the log leaves as the files hold them are absent.

    Computed once per collection and stamp; treat the result as read-only.

    :raises FilesUnreadable: on an operation or vector encoding this reader does not know.
    """
    return _overlay(collection)


@lru_cache(maxsize=4)
def _overlay(collection: StoreCollection) -> Overlay:
    writes = read_log(collection)
    if not writes:
        return {}
    held = set(labels_of(collection.segment_dir / PICKLE, {w.record_id for w in writes})) if collection.in_files \
        else set()
    replay: PythonReplay | RustReplay
    if collection.writer == PYTHON:
        replay = PythonReplay(held, collection.batch_size, counts_records=_counts_records(collection),
                              initialized=collection.in_files)
    else:
        replay = RustReplay(held)
    for write in writes:
        replay.apply(write)
    overlay = replay.result()
    if collection.space == "cosine":
        return {i: v if v is None or not indexed else as_indexed(v) for i, (v, indexed) in overlay.items()}
    return {i: v for i, (v, _) in overlay.items()}


def _counts_records(collection: StoreCollection) -> bool:
    """Whether the Python Chroma that wrote the store counts log records (0.5, 0.6) or batch ids (0.4) per batch.

    chromadb 0.5 added ``embeddings_queue_config`` (migration ``embeddings_queue`` 2) with the record count.
    """
    conn = connect_readonly(collection.sqlite_path)
    try:
        return conn.execute("SELECT 1 FROM migrations WHERE dir = 'embeddings_queue' AND version = 2").fetchone() \
            is not None
    finally:
        conn.close()


class RustReplay:
    """chromadb 1.x's ``LocalHnswSegmentWriter::apply_log_chunk``: every write is indexed at once."""

    def __init__(self, held: set[str]) -> None:
        self.exists = {i: True for i in held}
        self.vectors: dict[str, np.ndarray] = {}

    def apply(self, write: LogWrite) -> None:
        """Apply one log record."""
        record_id, exists = write.record_id, self.exists.get(write.record_id, False)
        if write.operation == LOG_DELETE:
            if exists:
                self.exists[record_id] = False
                self.vectors.pop(record_id, None)
            return
        if write.vector is None:
            return
        applies = {LOG_ADD: not exists, LOG_UPDATE: exists, LOG_UPSERT: True}[write.operation]
        if applies:
            self.exists[record_id] = True
            self.vectors[record_id] = write.vector

    def result(self) -> dict[str, tuple[np.ndarray | None, bool]]:
        """id → (its vector, indexed), or (``None``, False) when gone; ids the files hold unchanged are absent."""
        return {i: ((self.vectors[i], True) if i in self.vectors else (None, False))
                for i, exists in self.exists.items() if not exists or i in self.vectors}


@dataclass
class PythonReplay:
    """chromadb 0.4–0.6's ``PersistentLocalHnswSegment._write_records`` with its ``Batch``.

    :param held: the logged ids the HNSW files hold.
    :param counts_records: 0.5/0.6 close a batch after ``batch_size`` log records; 0.4 when ``len(batch)``
        (ids written or deleted in it) reaches it.
    :param initialized: the files were loaded (else the index starts with the first vector in the log).
    """

    held: set[str]
    batch_size: int
    counts_records: bool
    initialized: bool
    indexed: dict[str, np.ndarray] = field(default_factory=dict)
    written: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    upsert_adds: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    records: int = 0

    def apply(self, write: LogWrite) -> None:
        """Apply one log record, closing the batch when it is full."""
        self.seen.add(write.record_id)
        self.records += 1
        if write.vector is not None:
            self.initialized = True
        if not self.initialized:
            return
        record_id, vector = write.record_id, write.vector
        in_batch = record_id in self.written
        exists = in_batch or record_id in self.held
        if write.operation == LOG_DELETE:
            if exists:
                self._delete(record_id)
        elif vector is None:
            pass
        elif write.operation == LOG_UPDATE:
            if exists:
                self._write(record_id, write.operation, vector, exists)
        elif write.operation == LOG_ADD:
            pending_delete = record_id in self.deleted
            if not exists or (self.counts_records and pending_delete):
                self._write(record_id, write.operation, vector, exists)
        else:
            self._write(record_id, write.operation, vector, exists)
        size = self.records if self.counts_records else len(self.written) + len(self.deleted)
        if size >= self.batch_size:
            self._index_batch()

    def _write(self, record_id: str, operation: int, vector: np.ndarray, exists: bool) -> None:
        self.written[record_id] = (operation, vector)
        self.deleted.discard(record_id)
        if operation == LOG_UPSERT and not exists:
            self.upsert_adds.add(record_id)

    def _delete(self, record_id: str) -> None:
        """``Batch.apply`` of a delete: an id added in this batch is simply dropped from it."""
        if record_id in self.written:
            operation, _ = self.written.pop(record_id)
            if operation == LOG_UPSERT and record_id in self.upsert_adds:
                self.upsert_adds.discard(record_id)
            elif operation != LOG_ADD:
                self.deleted.add(record_id)
        elif record_id not in self.deleted:
            self.deleted.add(record_id)

    def _index_batch(self) -> None:
        """``LocalHnswSegment._apply_batch``: deletes, then writes, go into the HNSW index."""
        for record_id in self.deleted:
            self.held.discard(record_id)
            self.indexed.pop(record_id, None)
        for record_id, (_, vector) in self.written.items():
            self.held.add(record_id)
            self.indexed[record_id] = vector
        self.written, self.deleted, self.upsert_adds, self.records = {}, set(), set(), 0

    def result(self) -> dict[str, tuple[np.ndarray | None, bool]]:
        """id → (its vector, indexed), or (``None``, False) when gone; ids the files hold unchanged are absent.

        As ``get_vectors``: the unfinished batch first, then the index unless the batch deletes the id.
        """
        found: dict[str, tuple[np.ndarray | None, bool]] = {}
        for record_id in self.seen:
            if record_id in self.written:
                found[record_id] = (self.written[record_id][1], False)
            elif record_id in self.held and record_id not in self.deleted:
                if record_id in self.indexed:
                    found[record_id] = (self.indexed[record_id], True)
            else:
                found[record_id] = (None, False)
        return found


def as_indexed(vector: np.ndarray) -> np.ndarray:
    """A cosine vector as Chroma's ``get()`` returns it once indexed: hnswlib's unit vector times its norm.

    hnswlib sums the squares in float32 in order, scales by ``1 / (sqrt + 1e-30)`` and stores the norm; repeating
    exactly that keeps every bit equal to ``get()`` (chroma-hnswlib 0.7 and Chroma 1.x's hnswlib alike).
    """
    squares = np.add.accumulate(vector * vector, dtype=np.float32)
    norm = np.sqrt(squares[-1] if squares.size else np.float32(0)).astype(np.float32)
    inverse = np.float32(1) / (norm + np.float32(1e-30))
    return ((vector * inverse).astype(np.float32) * norm).astype(np.float32)
