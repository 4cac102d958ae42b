"""Read a Chroma collection's records: from the store's files when they can be read, else through Chroma's API.

Whatever goes wrong reading a source ends in one :class:`~vectorops.errors.SourceError` naming the
collection and the store: damaged files, or Chroma's API failing on them (a private copy of a local store, or a
server). Only :class:`~vectorops.errors.SourceChanged` (the files were written while they were read) is
worth a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from vectorops.chroma.api_errors import api_errors
from vectorops.chroma.files import reader as files_reader
from vectorops.chroma.locate import damaged, store_files
from vectorops.chroma.preflight import CollectionRef, SourceSpec, as_ref
from vectorops.chroma.source import ANY_DOCUMENT, RecordBatch, describe, get_collection
from vectorops.errors import FilesUnreadable, SourceChanged, SourceError

T = TypeVar("T")
R = TypeVar("R")


def has_documents(spec: SourceSpec, name: CollectionRef | str, space: str | None = None) -> bool:
    """Whether any record of the collection has a document (read from the files when they can be read)."""
    if space is None:
        space = describe(spec, name).space
    files = store_files(spec, name, space)
    if files:
        return files_reader.has_documents(files)
    with api_errors(spec, name, "look for documents"):
        return bool(get_collection(spec, name).get(where_document=ANY_DOCUMENT, limit=1, include=[])["ids"])


def iter_id_pages(spec: SourceSpec, name: CollectionRef | str, page: int) -> Iterator[list[str]]:
    """All ids of the collection through the API, a page at a time (``include=[]``: no payload is read)."""
    collection = get_collection(spec, name)
    offset = 0
    while True:
        with api_errors(spec, name, f"list ids from offset {offset}"):
            ids = collection.get(include=[], limit=page, offset=offset)["ids"]
        if not ids:
            return
        yield list(ids)
        offset += len(ids)


def fetch(spec: SourceSpec, name: CollectionRef | str, ids: Sequence[str]) -> RecordBatch:
    """Fetch ``ids`` through the API with embeddings, documents, metadatas and uris, in the order of ``ids``.

    An id the source no longer holds is left out (it was deleted after the ids were listed): the batch's ``ids``
    say which records it holds.
    """
    collection = get_collection(spec, name)
    with api_errors(spec, name, f"get {len(ids)} records by id"):
        got = collection.get(ids=list(ids), include=["embeddings", "documents", "metadatas", "uris"])
    position = {record_id: i for i, record_id in enumerate(got["ids"])}
    present = [i for i in ids if i in position]
    order = [position[i] for i in present]
    embeddings = got["embeddings"]
    if isinstance(embeddings, np.ndarray):
        embeddings = embeddings[order] if order != list(range(len(embeddings))) else embeddings
    elif embeddings is not None:
        embeddings = [embeddings[j] for j in order]

    def pick(key: str) -> list[Any]:
        values = got.get(key)
        return [None] * len(order) if values is None else [values[j] for j in order]

    return RecordBatch(ids=present, embeddings=embeddings, documents=pick("documents"),
                       metadatas=pick("metadatas"), uris=pick("uris"))


def _api_pages(spec: SourceSpec, name: CollectionRef | str, page: int, limit: int | None) -> Iterator[RecordBatch]:
    collection = get_collection(spec, name)
    offset, left = 0, limit
    while left is None or left > 0:
        size = page if left is None else min(page, left)
        with api_errors(spec, name, f"get records from offset {offset}"):
            got = collection.get(limit=size, offset=offset, include=["embeddings", "documents", "metadatas", "uris"])
        if not got["ids"]:
            return
        count = len(got["ids"])
        yield RecordBatch(ids=list(got["ids"]), embeddings=got["embeddings"],
                          documents=list(got.get("documents") or [None] * count),
                          metadatas=list(got.get("metadatas") or [None] * count),
                          uris=list(got.get("uris") or [None] * count))
        offset += count
        left = None if left is None else left - count


def iter_records(spec: SourceSpec, name: CollectionRef | str, space: str, page: int = 5000,
                 limit: int | None = None) -> Iterator[RecordBatch]:
    """Records of the collection, a page at a time, from the files when they can be read (else the API).

    :param limit: stop after this many records (in the reader's order).
    :raises SourceError: naming the collection when its files are damaged or the API fails.
    """
    files = store_files(spec, name, space)
    if files is None:
        yield from _api_pages(spec, name, page, limit)
        return
    left = limit
    try:
        with files_reader.StoreReader(files) as reader:
            for ids, positions in files_reader.iter_id_positions(files, batch=page):
                if left is not None:
                    if left <= 0:
                        return
                    ids, positions = ids[:left], positions[:left]
                    left -= len(ids)
                documents, metadatas, uris = reader.fields(ids)
                yield RecordBatch(ids=ids, embeddings=reader.vectors(positions.tolist(), ids), documents=documents,
                                  metadatas=metadatas, uris=uris)
    except (FilesUnreadable, KeyError, OSError) as exc:
        raise read_failure(spec, name, files, files.stamp, exc) from None


def one_ahead(work: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``work(item)`` for each item in a worker thread, one item ahead of the consumer (two results at most)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-fetch") as pool:
        pending = None
        for item in items:
            following = pool.submit(work, item)
            if pending is not None:
                yield pending.result()
            pending = following
        if pending is not None:
            yield pending.result()


def changed_error(name: CollectionRef | str, detail: str) -> SourceChanged:
    """The error for a source that changed between staging and loading."""
    return SourceChanged(f"collection {as_ref(name).label!r} changed during the migration: {detail}; "
                         "run the migration again")


def read_failure(spec: SourceSpec, name: CollectionRef | str, files: files_reader.StoreCollection,
                        stamp: str, problem: Exception) -> SourceError:
    """A read of the files failed: the source changed under the reader (retry), or its files are damaged (not)."""
    if files_reader.current_stamp(files) != stamp:
        return changed_error(name, f"its files were written while they were read ({problem})")
    if isinstance(problem, KeyError):
        return damaged(spec, name, FileNotFoundError(f"id {problem.args[0]!r} is listed by the HNSW segment but "
                                                     "not by the metadata segment"))
    return damaged(spec, name, problem)
