"""Writing records into a shadow table by one binary COPY per chunk; records PostgreSQL cannot hold are set apart.

The load writes only what it is handed: the records' fields and the vector each one gets (the migration steps
fetch them from Chroma and apply the embedding policy first). Encoding is :mod:`vectorops.load.copy_encoder`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from vectorops import failpoints
from vectorops.db.sql_files import statement
from vectorops.errors import UnstorableValue
from vectorops.load import quarantine
from vectorops.load.copy_encoder import COPY_HEADER, COPY_TRAILER, encode_rows
from vectorops.records import batch_checked_fields, checked_fields

#: Rows encoded per COPY write. The server parses one slice while the next is encoded, and a slice of ~170 kB
#: stays in the CPU caches. Measured on 200k rows × 384 (.scratch runs, 3 each): 5,000 rows ~105k rows/s,
#: 1,000 ~147k, 250 ~179k, 100 ~197k, 50 ~188k.
ENCODE_ROWS = 100


@dataclass
class Tally:
    """What a chunk's load did so far: rows loaded and with metadata (the write), vectors re-embedded or kept and
    the seconds the model took (the embedding step)."""

    loaded: int = 0
    metadata_rows: int = 0
    reembedded: int = 0
    kept: int = 0
    encode_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Rows:
    """Records ready to write, at most :data:`ENCODE_ROWS` of them.

    :param ids: record ids.
    :param vectors: float32 (rows, dims), the vector each row gets; valid where ``problems[i]`` is ``None``.
    :param problems: per row, why its vector cannot be stored, else ``None``.
    :param documents: document per row, or ``None``.
    :param metadatas: metadata per row, or ``None``.
    :param uris: uri per row, or ``None``.
    :param originals: the source's embeddings of the rows, kept in a quarantined record's payload (or ``None``).
    """

    ids: list[str]
    vectors: np.ndarray
    problems: list[str | None]
    documents: list[str | None]
    metadatas: list[dict[str, Any] | None]
    uris: list[str | None]
    originals: Any


def write_batches(conn: psycopg.Connection, schema: str, shadow: str, batches: Iterable[Iterable[Rows]],
                  tally: Tally, progress: Callable[[int], None] | None = None) -> list[quarantine.Entry]:
    """COPY the storable records of ``batches`` into ``schema.shadow``; return the quarantine entries.

    One COPY statement; a writer thread sends each encoded slice while the next one is checked and encoded.
    Must run inside a transaction (it sets ``synchronous_commit = off`` for that transaction only).

    :param batches: per fetched batch, its slices.
    :param tally: counts the rows loaded and those with metadata.
    :param progress: called with the number of records read so far after each batch.
    """
    quarantined: list[quarantine.Entry] = []
    read = 0
    # The commit does not wait for the ledger's WAL to reach the disk. Safe for a load: a crash can only lose
    # whole chunk transactions, data and ledger together, and they reload.
    conn.execute("SET LOCAL synchronous_commit = off")
    cursor = conn.cursor()
    copy_sql = statement("load/copy_records", table=sql.Identifier(schema, shadow))
    with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(COPY_HEADER)
        for batch in batches:
            for part in batch:
                payload, bad = encode_batch(part, tally)
                if payload:
                    copy.write(payload)
                quarantined.extend(bad)
                read += len(part.ids)
            failpoints.hit("copy_batch")
            if progress is not None:
                progress(read)
        copy.write(COPY_TRAILER)
    return quarantined


def encode_batch(rows: Rows, tally: Tally) -> tuple[bytes | None, list[quarantine.Entry]]:
    """Split ``rows`` into encoded COPY rows and quarantine entries (record id, reason, payload).

    :param rows: the records and their vectors.
    :param tally: counts the rows loaded and those with metadata.
    :return: the encoded rows (``None`` when none is storable) and the quarantine entries.
    """
    count = len(rows.ids)
    if not any(rows.problems):
        fast = batch_checked_fields(rows.ids, rows.documents, rows.uris, rows.metadatas)
        if fast is not None:
            tally.loaded += count
            tally.metadata_rows += count - fast.count(None)
            return encode_rows(rows.ids, rows.vectors, rows.documents, fast, rows.uris), []
    keep: list[int] = []
    metas: list[str | None] = []
    bad: list[quarantine.Entry] = []
    for i in range(count):
        reason = rows.problems[i]
        meta = rows.metadatas[i]
        encoded = None
        try:
            encoded = checked_fields(rows.ids[i], rows.documents[i], rows.uris[i], meta)
        except UnstorableValue as exc:
            reason = str(exc)
        if reason is None:
            keep.append(i)
            metas.append(encoded)
            continue
        original = rows.originals[i] if rows.originals is not None else None
        bad.append(quarantine.entry(rows.ids[i], original, rows.documents[i], meta, rows.uris[i], reason))
    tally.loaded += len(keep)
    tally.metadata_rows += sum(m is not None for m in metas)
    if not keep:
        return None, bad
    if len(keep) == count:
        return encode_rows(rows.ids, rows.vectors, rows.documents, metas, rows.uris), bad
    return encode_rows([rows.ids[i] for i in keep], rows.vectors[keep], [rows.documents[i] for i in keep], metas,
                       [rows.uris[i] for i in keep]), bad
