"""Read a local Chroma store straight from its files, with memory that does not grow with the collection.

Chroma's own client loads a collection's whole HNSW index (every vector and the graph) into memory on the
first ``count()`` or ``get()``, and a single ``get()`` of more than about 32,000 records fails on SQLite's
variable limit. This module reads the files :mod:`vectorops.chroma.files.layout` located: ids and their element
positions in one streaming pass over the pickle (:mod:`vectorops.chroma.files.hnsw_pickle`), vectors with ``pread`` by
position, documents and metadata with indexed SQLite queries, and the writes still in the log
(:mod:`vectorops.chroma.files.write_log`). What it returns equals Chroma's ``get()`` bit for bit (the conformance
tests check it, and every migration cross-checks a sample against Chroma's own API).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from vectorops.chroma.files.hnsw_pickle import PickleStream
from vectorops.chroma.files.layout import (
    DOCUMENT_KEY,
    URI_KEY,
    HnswHeader,
    StoreCollection,
    connect_readonly,
    current_stamp,
    has_documents,
    open_collection,
    scalar,
)
from vectorops.chroma.files.positions import FROM_LOG, label_positions, positions_for_labels, positions_of
from vectorops.chroma.files.versions import PYTHON, columns
from vectorops.chroma.files.write_log import log_overlay
from vectorops.errors import FilesUnreadable

__all__ = ["FROM_LOG", "StoreCollection", "StoreReader", "current_stamp", "has_documents",
           "iter_id_positions", "log_overlay", "open_collection", "positions_of"]

ID_BATCH = 50_000
ID_PARAMS = 5_000  # ids bound to one SQLite statement (SQLite allows 32,766 parameters)


def iter_id_positions(collection: StoreCollection, batch: int = ID_BATCH) -> Iterator[tuple[list[str], np.ndarray]]:
    """Every id of the collection with the position of its element in ``data_level0.bin``, a batch at a time.

    Memory: one ``int64`` per element for the label → position map, and one batch. A collection whose HNSW
    files hold nothing yet (never flushed) is read from the log alone: every position is :data:`FROM_LOG`.

    :raises FilesUnreadable: when a label has no element, or the number of ids differs from the metadata
        segment's count.
    """
    overlay = log_overlay(collection)
    seen = 0
    in_files: set[str] = set()
    if collection.in_files:
        for ids, found in _ids_in_files(collection, overlay, in_files, batch):
            yield ids, found
            seen += len(ids)
    added = [i for i, vector in overlay.items() if vector is not None and i not in in_files]
    for start in range(0, len(added), batch):
        page = added[start:start + batch]
        yield page, np.full(len(page), FROM_LOG, dtype=np.int64)
        seen += len(page)
    if seen != collection.count:
        raise FilesUnreadable(f"the HNSW segment and the log list {seen} ids, the metadata segment {collection.count}")


def _ids_in_files(collection: StoreCollection, overlay: dict[str, np.ndarray | None], in_files: set[str],
                  batch: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """The ids the HNSW files hold and the log keeps, with their element positions; adds the logged ones it met
    to ``in_files``."""
    positions = label_positions(collection)
    with open(collection.segment_dir / "index_metadata.pickle", "rb", buffering=1 << 20) as handle:
        ids: list[str] = []
        labels: list[int] = []
        for record_id, label in PickleStream(handle).id_to_label():
            if record_id in overlay:
                in_files.add(record_id)
                if overlay[record_id] is None:
                    continue  # deleted after the files were written
            ids.append(record_id)
            labels.append(label)
            if len(ids) == batch:
                yield ids, positions_for_labels(positions, labels)
                ids, labels = [], []
        if ids:
            yield ids, positions_for_labels(positions, labels)


class StoreReader:
    """Reads records of one collection by id and element position. Not thread-safe: one per thread."""

    def __init__(self, collection: StoreCollection) -> None:
        self.collection = collection
        self._data = self._lengths = -1
        if collection.in_files:
            self._data = os.open(collection.segment_dir / "data_level0.bin", os.O_RDONLY)
            self._lengths = os.open(collection.segment_dir / "length.bin", os.O_RDONLY)
        self._db = connect_readonly(collection.sqlite_path)
        self._arrays = bool(scalar(self._db, "SELECT count(*) FROM sqlite_master WHERE name = ?",
                                 ("embedding_metadata_array",)))
        self._flag = "m.bool_value" if "bool_value" in columns(self._db, "embedding_metadata") else "NULL"
        self._overlay = log_overlay(collection)

    def close(self) -> None:
        """Close the files and the SQLite connection."""
        for handle in (self._data, self._lengths):
            if handle >= 0:
                os.close(handle)
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
        in_files = [i for i, p in enumerate(positions) if p != FROM_LOG]
        if in_files and header is None:
            raise FilesUnreadable("an element position was given for a collection whose files hold no records")
        vectors = np.empty((len(positions), dims), dtype=np.float32)
        if header is not None:
            vectors[in_files] = self._from_files([int(positions[i]) for i in in_files], header)
        for i, record_id in enumerate(ids):
            if record_id in self._overlay or positions[i] == FROM_LOG:
                logged = self._overlay.get(record_id)
                if logged is None:
                    raise FilesUnreadable(f"record {record_id!r} has no vector in the files or the log")
                vectors[i] = logged
        return vectors

    def _from_files(self, positions: list[int], header: HnswHeader) -> np.ndarray:
        """The vectors at element ``positions`` of ``data_level0.bin`` (times their norms, in the cosine space)."""
        dims = self.collection.dimensions
        size = header.element_bytes
        raw = b"".join(os.pread(self._data, size, p * size) for p in positions)
        if len(raw) != size * len(positions):
            raise FilesUnreadable("data_level0.bin is shorter than its element count")
        rows = np.frombuffer(raw, dtype=np.uint8).reshape(len(positions), size)
        if len(positions) and rows[:, 2].any():  # hnswlib's delete mark: byte 2 of the level-0 link count
            raise FilesUnreadable("an element staged for loading is marked deleted in data_level0.bin")
        stored = rows[:, header.data_offset:header.data_offset + 4 * dims].copy().view("<f4")
        if self.collection.space == "cosine" and positions:
            norms = np.frombuffer(b"".join(os.pread(self._lengths, 4, p * 4) for p in positions), dtype="<f4")
            stored = stored * norms[:, None]  # float32 × float32, as Chroma rebuilds them
        return stored

    def fields(self, ids: Sequence[str]) -> tuple[list[str | None], list[dict[str, Any] | None], list[str | None]]:
        """Documents, metadatas and uris of ``ids``, in their order.

        :raises KeyError: naming the first id the metadata segment does not have.
        """
        index = {record_id: i for i, record_id in enumerate(ids)}
        documents: list[str | None] = [None] * len(ids)
        uris: list[str | None] = [None] * len(ids)
        metadatas: list[dict[str, Any] | None] = [None] * len(ids)
        present = [False] * len(ids)
        rows = self._by_ids(
            f"""SELECT e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, {self._flag}
               FROM embeddings e LEFT JOIN embedding_metadata m ON m.id = e.id""", ids)  # noqa: S608
        for record_id, key, text, number, real, flag in rows:
            i = index[record_id]
            present[i] = True
            if key is None:
                continue
            value: Any = text if text is not None else number if number is not None else real if real is not None \
                else bool(flag)
            if key == DOCUMENT_KEY:
                documents[i] = value
                continue
            meta = metadatas[i]
            if meta is None:  # as Chroma 1.x does: a uri without metadata gives {}, a document alone gives None
                meta = metadatas[i] = {}
            if key == URI_KEY:
                uris[i] = value
            else:
                meta[key] = value
        if not all(present):
            raise KeyError(ids[present.index(False)])
        if self._arrays:
            self._add_arrays(ids, index, metadatas)
        if self.collection.writer == PYTHON:  # chromadb 0.4–0.6 (_clean_metadata): no metadata left gives None
            metadatas = [meta or None for meta in metadatas]
        return documents, metadatas, uris

    def present(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` the metadata segment holds now."""
        return {str(row[0]) for row in self._by_ids("SELECT e.embedding_id FROM embeddings e", ids)}

    def _by_ids(self, select: str, ids: Sequence[str], order: str = "") -> Iterator[tuple[Any, ...]]:
        """The rows of ``select`` (over ``embeddings e``) for the metadata segment's records ``ids``.

        The ids are bound, :data:`ID_PARAMS` to a statement, never passed as JSON: SQLite's ``json_each`` cuts a
        string at a NUL, and an id may hold one.
        """
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), ID_PARAMS):
            chunk = unique[start:start + ID_PARAMS]
            # only placeholders are added to the fixed statement: the ids themselves are bound
            statement = " ".join((select, "WHERE e.segment_id = ? AND e.embedding_id IN (",
                                  ", ".join("?" * len(chunk)), ")", order))
            yield from self._db.execute(statement, (self.collection.metadata_segment, *chunk))

    def _add_arrays(self, ids: Sequence[str], index: dict[str, int],
                    metadatas: list[dict[str, Any] | None]) -> None:
        rows = self._by_ids(
            """SELECT e.embedding_id, a.key, a.string_value, a.int_value, a.float_value, a.bool_value
               FROM embeddings e JOIN embedding_metadata_array a ON a.id = e.id""", ids, "ORDER BY a.rowid")
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
