"""Read a migration's staged ids back from the source, for a chunk load or a parity pass, while the source may
still be written.

Ids staged from a store's files carry their elements' positions. While the files' stamp still equals the one
recorded at staging, nothing was written since the read point, and the records are read at those positions (the
fast path); each batch is checked against the stamp after it was read. Once the files moved, every later batch
is read as the source holds it now (:func:`vectorops.chroma.latest.read_latest`). Ids staged through Chroma's API
are read by id. Either way an id the source no longer holds is reported as gone: it was deleted after the read
point, which is neither an error nor a loss (the first sync after the migration deletes it from the table).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from vectorops.chroma.fetch import one_ahead, read_failure
from vectorops.chroma.files import reader as files_reader
from vectorops.chroma.latest import read_latest
from vectorops.chroma.locate import store_files
from vectorops.chroma.preflight import CollectionRef, SourceSpec
from vectorops.chroma.source import RecordBatch
from vectorops.errors import FilesUnreadable, SourceChanged, SourceError

Batch = tuple[list[str], list[int | None] | None]
#: reads of one batch as the source holds it now before a source that keeps moving under the reader is given up on
READS = 5
PAUSE_S = 0.2


@dataclass(frozen=True)
class StagedBatch:
    """The records of a batch of staged ids the source holds, in the staged order, and the ids it no longer holds.

    :param current: read as the source holds it now (it was written since staging), not at the staged positions.
    """

    records: RecordBatch
    gone: list[str]
    current: bool


def fetch_staged(spec: SourceSpec, name: CollectionRef | str, space: str, stamp: str | None,
                 batches: Iterable[Batch]) -> Iterator[StagedBatch]:
    """Fetch staged batches of ids, one batch ahead of the consumer.

    :param spec: the source.
    :param name: the collection.
    :param space: its distance space.
    :param stamp: the files' stamp recorded at staging (the ids then carry their positions), or ``None`` when
        they were staged through the API.
    :param batches: ``(ids, positions)`` in the staged order.
    :raises SourceChanged: when the files kept being rewritten during every read of one batch.
    :raises SourceError: when the unchanged files are damaged, or Chroma's API fails.
    """
    files = store_files(spec, name, space, staged_stamp=stamp) if stamp is not None else None
    if files is None or files_reader.current_stamp(files) != stamp:
        yield from one_ahead(lambda batch: _now(spec, name, space, batch[0]), batches)
        return
    staged_files, staged_stamp = files, stamp
    reader: files_reader.StoreReader | None = None
    moved = False

    def read(batch: Batch) -> StagedBatch:
        nonlocal reader, moved
        ids, staged = batch
        positions = [p for p in staged if p is not None] if staged is not None else []
        if not moved and len(positions) == len(ids):
            try:
                if reader is None:
                    reader = files_reader.StoreReader(staged_files)
                documents, metadatas, uris = reader.fields(ids)
                vectors = reader.vectors(positions, ids)
            except (KeyError, OSError, FilesUnreadable) as exc:
                if files_reader.current_stamp(staged_files) == staged_stamp:
                    raise read_failure(spec, name, staged_files, staged_stamp, exc) from None
            else:
                # read whole under the staged stamp: no write since the read point touched these records
                if files_reader.current_stamp(staged_files) == staged_stamp:
                    return StagedBatch(RecordBatch(ids=ids, embeddings=vectors, documents=documents,
                                                   metadatas=metadatas, uris=uris), [], current=False)
            moved = True
        return _now(spec, name, space, ids)

    try:
        yield from one_ahead(read, batches)
    finally:
        if reader is not None:
            reader.close()


def settled_files(spec: SourceSpec, name: CollectionRef | str, space: str, stamp: str | None = None
                  ) -> files_reader.StoreCollection | None:
    """The collection located in its files, asked again for a moment while they refuse a reader or look damaged (a
    writer between logging a write and applying it); ``None`` when they still refuse, or the source is read through
    the API.

    :raises SourceError: when the files still look damaged after the last try.

    :param spec: the source.
    :param name: the collection.
    :param space: its distance space.
    :param stamp: the stamp recorded at staging, if any (as :func:`vectorops.chroma.locate.store_files` takes it).
    """
    for attempt in range(READS):
        try:
            files = store_files(spec, name, space, staged_stamp=stamp)
        except SourceError:
            # a live store's files caught mid-write can look damaged for a moment (a length file behind the element
            # count it was written with): asked again like a refusal; damage that lasts is raised
            if attempt == READS - 1:
                raise
        else:
            if files is not None or spec.host or not spec.path:
                return files
        time.sleep(PAUSE_S * (attempt + 1))
    return None


def _now(spec: SourceSpec, name: CollectionRef | str, space: str, ids: list[str]) -> StagedBatch:
    """``ids`` as the source holds them now."""
    if not ids:
        return StagedBatch(RecordBatch(ids=[], embeddings=[], documents=[], metadatas=[], uris=[]), [], current=True)
    for attempt in range(READS):
        try:
            latest = next(read_latest(spec, name, space, ids, len(ids)))
            return StagedBatch(latest.records, latest.gone, current=True)
        except SourceChanged:
            # a writer between logging a write and applying it: the files refuse a reader for a moment
            if attempt == READS - 1:
                raise
            time.sleep(PAUSE_S * (attempt + 1))
    raise AssertionError("unreachable")
