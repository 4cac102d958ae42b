"""Staging a collection's ids: every source id into ``vectorops.migration_source_ids``, no payload read.

From the store's files when they can be read directly: each id then carries its element's position, and the
files' stamp is kept in the ledger. Otherwise through Chroma's API. Ids over
:data:`vectorops.load.unkeyable_ids.LONG_ID_BYTES` are staged one by one, and those no key can hold are
quarantined with their original records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg

from vectorops import failpoints
from vectorops.chroma import fetch, locate, source
from vectorops.chroma.files import reader
from vectorops.errors import FilesUnreadable
from vectorops.load import quarantine, unkeyable_ids
from vectorops.migration import ledger


@dataclass(frozen=True)
class StagedIds:
    """What staging read: ``read`` source ids, of which ``refused`` (encoded, position) no key can hold."""

    read: int
    refused: list[tuple[bytes, int | None]]


def stage_ids(conn: psycopg.Connection, spec: source.SourceSpec, collection: str, attempt_id: str,
              page: int, space: str) -> StagedIds:
    """Stream every source id of ``collection`` into the staging table (no payload is read).

    :param conn: the connection, in the staging transaction (from the files it opens its own).
    :param spec: the source.
    :param collection: the collection's key.
    :param attempt_id: the attempt.
    :param page: ids per page read through the API.
    :param space: the collection's distance space.
    :return: the number of ids read from the source, and the ids (with positions) that could not be staged.
    :raises psycopg.errors.UniqueViolation: if the source listed an id twice.
    """
    files = locate.store_files(spec, collection, space)
    if files is not None:
        try:
            with conn.transaction():
                return _stage_from_files(conn, files, attempt_id)
        except FilesUnreadable as exc:
            # the layout was recognised, so Chroma's API would read the same inconsistent files
            raise fetch.read_failure(spec, collection, files, files.stamp, exc) from None
    ledger.clear_staging(conn, attempt_id)
    ledger.set_source_stamp(conn, attempt_id, None)
    pages = ((ids, None) for ids in fetch.iter_id_pages(spec, collection, page))
    return _write(conn, attempt_id, pages, with_positions=False)


def _stage_from_files(conn: psycopg.Connection, files: reader.StoreCollection, attempt_id: str) -> StagedIds:
    ledger.clear_staging(conn, attempt_id)
    pages = ((ids, positions.tolist()) for ids, positions in reader.iter_id_positions(files))
    staged = _write(conn, attempt_id, pages, with_positions=True)
    if reader.current_stamp(files) != files.stamp:
        raise fetch.changed_error(files.name, "its files were written while the ids were staged")
    ledger.set_source_stamp(conn, attempt_id, files.stamp)
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
    for batch in fetch.fetch_staged(spec, collection, space, stamp, [(ids, positions)]):
        for i, record_id in enumerate(batch.ids):
            original = batch.embeddings[i] if batch.embeddings is not None else None
            entries.append(quarantine.entry(record_id, original, batch.documents[i], batch.metadatas[i],
                                            batch.uris[i], unkeyable_ids.reason(ledger.encode_id(record_id))))
    quarantine.store(conn, collection=collection, attempt_id=attempt_id, run_id=run_id, entries=entries)
    ledger.record_unkeyable(conn, attempt_id, len(entries))
    return len(entries)
