"""Staging a collection's ids: every source id into ``vectorops.migration_source_ids``, no payload read.

From the store's files when they can be read directly: the ids the collection held at its read point (its
newest sequence number, kept in the ledger with the files' stamp), each with its element's position when no
write landed while they were listed. Otherwise through Chroma's API. Ids over
:data:`vectorops.load.unkeyable_ids.LONG_ID_BYTES` are staged one by one, and those no key can hold are
quarantined with their original records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from vectorops import failpoints
from vectorops.chroma import fetch, locate, source
from vectorops.chroma.api_errors import api_errors
from vectorops.chroma.files import changes, reader
from vectorops.chroma.staged import fetch_staged
from vectorops.errors import FilesUnreadable
from vectorops.load import quarantine, unkeyable_ids
from vectorops.migration import ledger


@dataclass(frozen=True)
class StagedIds:
    """What staging read: ``read`` source ids, of which ``refused`` (encoded, position) no key can hold."""

    read: int
    refused: list[tuple[bytes, int | None]]


#: id scans of a server collection before one whose count moved during every scan is given up on
API_SCANS = 3


class _Moved(Exception):
    """The files were written while their ids were listed."""


def stage_ids(conn: psycopg.Connection, spec: source.SourceSpec, collection: str, attempt_id: str,
              page: int, space: str, expected: int) -> StagedIds:
    """Stream every source id of ``collection`` into the staging table (no payload is read), at a read point.

    From a store's files: the ids the collection held at its read point (its newest sequence number), recorded
    with the attempt; a write during the listing is no error. Through Chroma's API: an offset-paged scan, which
    can skip ids when records are deleted meanwhile, so it is accepted only when ``count()`` before it, its own
    count and ``count()`` after it agree (and tried again, :data:`API_SCANS` times, when they do not).

    :param conn: the connection, in the staging transaction (from the files it opens its own).
    :param spec: the source.
    :param collection: the collection's key.
    :param attempt_id: the attempt.
    :param page: ids per page read through the API.
    :param space: the collection's distance space.
    :param expected: the source's ``count()`` before staging.
    :return: the number of ids read from the source, and the ids (with positions) that could not be staged.
    :raises psycopg.errors.UniqueViolation: if the source listed an id twice.
    :raises SourceChanged: when a server collection's count moved during every scan.
    """
    files = locate.store_files(spec, collection, space)
    if files is not None:
        try:
            with conn.transaction():
                return _stage_from_files(conn, files, attempt_id)
        except FilesUnreadable as exc:
            # the layout was recognised, so Chroma's API would read the same inconsistent files
            raise fetch.read_failure(spec, collection, files, files.stamp, exc) from None
    before = expected
    for _ in range(API_SCANS):
        at = datetime.now(UTC)
        with conn.transaction():
            ledger.clear_staging(conn, attempt_id)
            ledger.set_read_point(conn, attempt_id, None, at, None)
            pages = ((ids, None) for ids in fetch.iter_id_pages(spec, collection, page))
            staged = _write(conn, attempt_id, pages, with_positions=False)
            after = _count(spec, collection)
            if before == staged.read == after:
                return staged
        before = after
    raise fetch.changed_error(collection, f"its count moved during each of {API_SCANS} scans of its ids through "
                                          "Chroma's API (a scan by offset can skip ids while records are deleted); "
                                          "pause its writers while the migration stages its ids")


def _count(spec: source.SourceSpec, collection: str) -> int:
    with api_errors(spec, collection, "count its records"):
        return int(source.get_collection(spec, collection).count())


def _stage_from_files(conn: psycopg.Connection, files: reader.StoreCollection, attempt_id: str) -> StagedIds:
    """The ids with their element positions when no write lands while they are listed (the fast path of every
    chunk load); else the ids alone, as of one read of ``chroma.sqlite3`` (the loads then read each by id)."""
    at = datetime.now(UTC)
    point = changes.read_point(files)
    try:
        with conn.transaction():  # a savepoint: a listing the files moved under is rolled back
            ledger.clear_staging(conn, attempt_id)
            pages = ((ids, positions.tolist()) for ids, positions in reader.iter_id_positions(files))
            staged = _write(conn, attempt_id, pages, with_positions=True)
            if reader.current_stamp(files) != files.stamp:
                raise _Moved
    except (FilesUnreadable, KeyError, OSError):
        if reader.current_stamp(files) == files.stamp:
            raise
    except _Moved:
        pass
    else:
        # the stamp holds the collection's newest sequence number: unchanged, no write landed since ``point``
        ledger.set_read_point(conn, attempt_id, point, at, files.stamp)
        return staged
    at = datetime.now(UTC)
    ledger.clear_staging(conn, attempt_id)
    with changes.id_seqs(files) as listing:
        staged = _write(conn, attempt_id, (([i for i, _ in ids], None) for ids in listing.pages),
                        with_positions=False)
        point = listing.read_point
    # the stamp moved since ``files.stamp``, so the loads will not trust positions (none are staged either)
    ledger.set_read_point(conn, attempt_id, point, at, files.stamp)
    return staged


def _write(conn: psycopg.Connection, attempt_id: str, pages: Iterable[tuple[list[str], list[int] | None]],
           with_positions: bool) -> StagedIds:
    """COPY the pages' ids into the staging table, the long ones apart (:func:`stage_long_ids`)."""
    staged = 0
    long_ids: list[tuple[bytes, int | None]] = []
    with ledger.staged_id_copy(conn, with_positions) as copy:
        for ids, positions in pages:
            for i, record_id in enumerate(ids):
                encoded = ledger.encode_id(record_id)
                position = None if positions is None else positions[i]
                if unkeyable_ids.is_long(encoded):
                    long_ids.append((encoded, position))
                elif with_positions:
                    copy.write_row((attempt_id, encoded, position))
                else:
                    copy.write_row((attempt_id, encoded))
            staged += len(ids)
            failpoints.hit("stage_ids")
    return StagedIds(staged, stage_long_ids(conn, attempt_id, long_ids))


def stage_long_ids(conn: psycopg.Connection, attempt_id: str, long_ids: Sequence[tuple[bytes, int | None]]
                   ) -> list[tuple[bytes, int | None]]:
    """Stage each long id in its own savepoint; return the ids (with their positions) the key refused.

    :param conn: the staging connection, inside the staging transaction.
    :param attempt_id: the attempt.
    :param long_ids: encoded ids over :data:`unkeyable_ids.LONG_ID_BYTES` with their positions in the files (or
        ``None``).
    :raises psycopg.errors.UniqueViolation: if the source listed an id twice.
    """
    refused: list[tuple[bytes, int | None]] = []
    for encoded, position in long_ids:
        try:
            with conn.transaction():
                ledger.stage_id(conn, attempt_id, encoded, position)
        except psycopg.errors.ProgramLimitExceeded:
            refused.append((encoded, position))
    return refused


def quarantine_refused(conn: psycopg.Connection, *, spec: source.SourceSpec, collection: str, space: str,
                       attempt_id: str, run_id: str, refused: Sequence[tuple[bytes, int | None]]) -> int:
    """Quarantine the records of the ids no key can hold, with their original payloads; return how many.

    Their records are read like any staged batch (from the files when the ids were staged from them).

    :param conn: the staging connection, inside the staging transaction (the stamp is read from it).
    :param spec: the source.
    :param collection: the collection's key.
    :param space: the collection's distance space.
    :param attempt_id: the attempt.
    :param run_id: the run, recorded with each quarantined record.
    :param refused: the ids :func:`stage_long_ids` returned.
    """
    if not refused:
        return 0
    stamp = ledger.source_stamp(conn, attempt_id)
    ids = [ledger.decode_id(encoded) for encoded, _ in refused]
    positions = [position for _, position in refused]
    entries = []
    gone = 0
    for found in fetch_staged(spec, collection, space, stamp, [(ids, positions)]):
        batch = found.records
        gone += len(found.gone)  # deleted since the read point: nothing to quarantine
        for i, record_id in enumerate(batch.ids):
            original = batch.embeddings[i] if batch.embeddings is not None else None
            entries.append(quarantine.entry(record_id, original, batch.documents[i], batch.metadatas[i],
                                            batch.uris[i], unkeyable_ids.reason(ledger.encode_id(record_id))))
    quarantine.store(conn, collection=collection, attempt_id=attempt_id, run_id=run_id, entries=entries)
    ledger.record_unkeyable(conn, attempt_id, len(entries))
    ledger.add_gone(conn, attempt_id, gone)
    return len(entries)
