"""Writes still in a Chroma store's log, after the segment files were last flushed.

Chroma flushes its HNSW segment every ``sync_threshold`` writes (1,000 by default), so almost every store has
some vector writes only in ``embeddings_queue``.
"""

from __future__ import annotations

import numpy as np

from vectorops.chroma_layout import FilesUnreadable, StoreCollection, connect_readonly

LOG_ADD, LOG_UPDATE, LOG_UPSERT, LOG_DELETE = 0, 1, 2, 3


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
