"""Read records as the source holds them now, while it may still be written: the reads of a live migration and
of a sync.

A write to a local store can rewrite its HNSW files between two reads, so a batch is read whole under one stamp
of the files and read again when the stamp moved meanwhile. An id the source no longer holds is reported as
gone, never as an error: it was deleted after the read point, and the sync after the migration accounts for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vectorops.chroma.api_errors import api_errors
from vectorops.chroma.fetch import changed_error, read_failure
from vectorops.chroma.files import positions as file_positions
from vectorops.chroma.files import reader as files_reader
from vectorops.chroma.files.stamps import hnsw_stamp
from vectorops.chroma.locate import store_files
from vectorops.chroma.preflight import CollectionRef, SourceSpec
from vectorops.chroma.source import RecordBatch, get_collection
from vectorops.errors import FilesUnreadable

#: reads of one batch before a store whose files keep being rewritten under the reader is given up on
ATTEMPTS = 5
PAUSE_S = 0.1


@dataclass(frozen=True)
class LatestBatch:
    """The records of the asked ids the source still holds (in the asked order), and the ids it no longer holds."""

    records: RecordBatch
    gone: list[str]


def read_latest(spec: SourceSpec, name: CollectionRef | str, space: str, ids: Sequence[str],
                batch: int) -> Iterator[LatestBatch]:
    """The current records of ``ids``, ``batch`` at a time, from the store's files when they can be read.

    :param spec: the source.
    :param name: the collection.
    :param space: its distance space.
    :param ids: the ids to read.
    :param batch: ids per read.
    :raises SourceChanged: when the files were rewritten during :data:`ATTEMPTS` reads of one batch in a row.
    :raises SourceError: when the unchanged files are damaged, or Chroma's API fails.
    """
    for start in range(0, len(ids), batch):
        part = list(ids[start:start + batch])
        files = store_files(spec, name, space)
        yield _from_api(spec, name, part) if files is None else _from_files(spec, name, space, part)


def _from_api(spec: SourceSpec, name: CollectionRef | str, ids: list[str]) -> LatestBatch:
    collection = get_collection(spec, name)
    with api_errors(spec, name, f"get {len(ids)} records by id"):
        got = collection.get(ids=ids, include=["embeddings", "documents", "metadatas", "uris"])
    index = {record_id: i for i, record_id in enumerate(got["ids"])}
    present = [i for i in ids if i in index]
    order = [index[i] for i in present]

    def pick(key: str) -> list[Any]:
        values = got.get(key)
        return [None] * len(order) if values is None else [values[j] for j in order]

    embeddings = got["embeddings"]
    vectors = None if embeddings is None else [embeddings[j] for j in order]
    records = RecordBatch(ids=present, embeddings=vectors, documents=pick("documents"), metadatas=pick("metadatas"),
                          uris=pick("uris"))
    return LatestBatch(records, [i for i in ids if i not in index])


def _from_files(spec: SourceSpec, name: CollectionRef | str, space: str, ids: list[str]) -> LatestBatch:
    # Only a flush of the HNSW files invalidates a read (element positions, and the log written after the files);
    # a write to the log meanwhile may give a record newer fields than its vector, which is safe: its sequence
    # number is past the read point, so the next sync reads it again.
    for attempt in range(ATTEMPTS):
        files = store_files(spec, name, space)  # located again once the files changed
        if files is None:
            raise changed_error(name, "its files can no longer be read directly")
        before = hnsw_stamp(files)
        try:
            found = _read_files(files, ids)
        except (KeyError, OSError, FilesUnreadable) as exc:
            if hnsw_stamp(files) == before and files_reader.current_stamp(files) == files.stamp:
                raise read_failure(spec, name, files, files.stamp, exc) from None
            time.sleep(PAUSE_S * attempt)
            continue
        if hnsw_stamp(files) == before:
            return found
    raise changed_error(name, f"its HNSW files were rewritten during each of {ATTEMPTS} reads of one batch")


def _read_files(files: files_reader.StoreCollection, ids: list[str]) -> LatestBatch:
    """One read of ``ids`` under the files' current stamp (the caller checks it did not move)."""
    where = file_positions.positions_of(files, ids)
    with files_reader.StoreReader(files) as reader:
        held = reader.present(ids)
        unplaced = [i for i in ids if i in held and i not in where]
        if unplaced:
            raise FilesUnreadable(f"record {unplaced[0]!r} is in the metadata segment but has no vector")
        present = [i for i in ids if i in held]
        documents, metadatas, uris = reader.fields(present)
        vectors = reader.vectors([where[i] for i in present], present)
    return LatestBatch(RecordBatch(ids=present, embeddings=vectors, documents=documents, metadatas=metadatas,
                                   uris=uris), [i for i in ids if i not in held])

