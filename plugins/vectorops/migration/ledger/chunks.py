"""The ledger's staged ids and chunks (``vectorops.migration_source_ids``, ``migration_chunks``), and the reads
and deletes of the attempt's ``vectorops.quarantine`` rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import Copy

from vectorops.db.sql_files import sql_text


@dataclass(frozen=True)
class ChunkRange:
    """A planned chunk: its status and the staged id range it covers."""

    status: str
    first_id: bytes
    last_id: bytes
    row_count: int


@dataclass(frozen=True)
class ChunkTotals:
    """The attempt's chunks summed (``pending`` counts the chunks that are not done)."""

    pending: int
    loaded: int
    quarantined: int
    planned: int
    reembedded: int
    kept: int
    metadata: int
    gone: int


def encode_id(record_id: str) -> bytes:
    """A record id as the staging table holds it (UTF-8, lone surrogates kept)."""
    return record_id.encode("utf-8", "surrogatepass")


def decode_id(raw: bytes) -> str:
    """The record id :func:`encode_id` staged."""
    return bytes(raw).decode("utf-8", "surrogatepass")



def clear_staged_ids(conn: psycopg.Connection, attempt_id: str) -> None:
    """Forget the attempt's staged ids."""
    conn.execute("DELETE FROM vectorops.migration_source_ids WHERE attempt_id = %s", (attempt_id,))


@contextmanager
def staged_id_copy(conn: psycopg.Connection, with_positions: bool) -> Iterator[Copy]:
    """A COPY into the staging table: write ``(attempt_id, id)`` rows, or ``(attempt_id, id, position)``."""
    columns = "attempt_id, id, source_position" if with_positions else "attempt_id, id"
    with conn.cursor().copy(f"COPY vectorops.migration_source_ids ({columns}) FROM STDIN") as copy:
        yield copy


def stage_id(conn: psycopg.Connection, attempt_id: str, encoded: bytes, position: int | None) -> None:
    """Stage one id on its own (it may raise :class:`psycopg.errors.ProgramLimitExceeded`)."""
    conn.execute("INSERT INTO vectorops.migration_source_ids (attempt_id, id, source_position) VALUES (%s, %s, %s)",
                 (attempt_id, encoded, position))


def clear_staging(conn: psycopg.Connection, attempt_id: str) -> None:
    """Forget an earlier staging of the attempt: its ids, and the records it quarantined (no chunk has loaded)."""
    clear_staged_ids(conn, attempt_id)
    clear_quarantine(conn, attempt_id)
    conn.execute("UPDATE vectorops.migration_runs SET quarantined_count = 0, unkeyable_count = 0, gone_count = 0 "
                 "WHERE attempt_id = %s", (attempt_id,))


def staged_ids(conn: psycopg.Connection, attempt_id: str, first_id: bytes, last_id: bytes
               ) -> tuple[list[str], list[int | None]]:
    """The staged ids of the range, in byte order, with their positions in the files."""
    rows = conn.execute(sql_text("migration/select_chunk_ids"), (attempt_id, first_id, last_id)).fetchall()
    return [decode_id(r[0]) for r in rows], [r[1] for r in rows]


def staged_id_pages(conn: psycopg.Connection, attempt_id: str, size: int
                    ) -> Iterator[tuple[list[str], list[int | None]]]:
    """The attempt's staged ids in byte order with their positions in the files, ``size`` at a time."""
    last = b""
    while True:
        page = conn.execute(sql_text("migration/select_staged_id_page"),
                            {"attempt_id": attempt_id, "after": last, "size": size}).fetchall()
        if not page:
            return
        last = bytes(page[-1][0])
        yield [decode_id(r[0]) for r in page], [r[1] for r in page]


def clear_chunks(conn: psycopg.Connection, attempt_id: str) -> None:
    """Forget the attempt's chunk plan."""
    conn.execute("DELETE FROM vectorops.migration_chunks WHERE attempt_id = %s", (attempt_id,))


def plan_chunks(conn: psycopg.Connection, attempt_id: str, chunk_rows: int) -> int:
    """Split the staged ids into id-range chunks of ``chunk_rows``; returns the number of chunks."""
    clear_chunks(conn, attempt_id)
    return conn.execute(sql_text("migration/insert_chunks"), {"attempt_id": attempt_id, "chunk_rows": chunk_rows}
                        ).rowcount


def chunk_numbers(conn: psycopg.Connection, attempt_id: str) -> list[int]:
    """The attempt's chunk numbers, in order."""
    return [r[0] for r in conn.execute(
        "SELECT chunk_no FROM vectorops.migration_chunks WHERE attempt_id = %s ORDER BY chunk_no", (attempt_id,))]


def lock_chunk(conn: psycopg.Connection, attempt_id: str, chunk_no: int) -> ChunkRange | None:
    """The chunk, locked until the transaction ends, or ``None`` when it is not planned."""
    row = conn.execute(sql_text("migration/select_chunk_for_update"), (attempt_id, chunk_no)).fetchone()
    return None if row is None else ChunkRange(row[0], row[1], row[2], int(row[3]))


def finish_chunk(conn: psycopg.Connection, attempt_id: str, chunk_no: int, **counts: Any) -> None:
    """The chunk is done: its counts (``loaded``, ``quarantined``, ``seconds``, ``reembedded``, ``kept``,
    ``metadata``, ``gone``), and the attempt's totals."""
    keys = {"attempt_id": attempt_id, "chunk_no": chunk_no, **counts}
    conn.execute(sql_text("migration/update_chunk_done"), keys)
    conn.execute(sql_text("migration/update_run_loaded"), keys)


def chunk_totals(conn: psycopg.Connection, attempt_id: str) -> ChunkTotals:
    """The attempt's chunks summed."""
    row = conn.execute(sql_text("migration/select_chunk_totals"), (attempt_id,)).fetchone()
    assert row is not None
    return ChunkTotals(*(int(v) for v in row))


def done_chunks(conn: psycopg.Connection, attempt_id: str) -> tuple[int, int]:
    """How many of the attempt's chunks are done, and the rows they loaded."""
    row = conn.execute("SELECT count(*), coalesce(sum(loaded_count), 0) FROM vectorops.migration_chunks "
                       "WHERE attempt_id = %s AND status = 'done'", (attempt_id,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def clear_quarantine(conn: psycopg.Connection, attempt_id: str) -> None:
    """Forget the records the attempt quarantined."""
    conn.execute("DELETE FROM vectorops.quarantine WHERE attempt_id = %s", (attempt_id,))


def quarantined_ids(conn: psycopg.Connection, attempt_id: str, limit: int | None = None) -> list[str]:
    """The ids the attempt quarantined, in order (the first ``limit``)."""
    return [r[0] for r in conn.execute(
        "SELECT record_id FROM vectorops.quarantine WHERE attempt_id = %s ORDER BY record_id LIMIT %s",
        (attempt_id, limit))]
