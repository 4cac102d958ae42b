"""What changed in a collection of a local store since a read point: Chroma's own sequence numbers, read-only.

Every write to a store takes the next ``embeddings_queue.seq_id``, and the metadata segment stamps each record
with the sequence number of the last write that touched it (``embeddings.seq_id``); a delete removes the record.
So the records added, updated or upserted since a read point ``R`` are those stamped above ``R``, in every
Chroma from 0.4 to 1.5, whether or not the log was purged since; deletes are the ids the metadata segment no
longer holds (docs/design/live-sync.md).

The stamp is an 8-byte big-endian BLOB before 1.0 and an INTEGER from 1.0, and a 0.x store later written by 1.x
holds both. :func:`id_seqs` decodes each value; :func:`count_changed_since` compares each type with its own
bound, because SQLite sorts every BLOB above every INTEGER.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from vectorops.chroma.files.layout import StoreCollection, connect_readonly, scalar
from vectorops.chroma.files.versions import decode_seq_id
from vectorops.errors import FilesUnreadable

PAGE = 50_000
ID_PARAMS = 5_000  # ids bound to one SQLite statement (SQLite allows 32,766 parameters)
_CHANGED = """(typeof(seq_id) = 'integer' AND seq_id > ?) OR (typeof(seq_id) = 'blob' AND seq_id > ?)"""


def _newest(conn: sqlite3.Connection, collection: StoreCollection) -> int:
    """The newest sequence number the collection's metadata segment applied: its records (``embeddings``) are
    exactly the source as of this point. A write Chroma logged but has not applied yet (1.x, for a moment) is past
    it, so the next read finds it; 0 when nothing was applied."""
    applied = scalar(conn, "SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (collection.metadata_segment,))
    return decode_seq_id(applied) if applied is not None else 0


def read_point(collection: StoreCollection) -> int:
    """The collection's read point now: the sequence number of the newest write to it (0 when never written).

    A migration that stages after this point loads at least every write up to it.
    """
    conn = connect_readonly(collection.sqlite_path)
    try:
        return _newest(conn, collection)
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"chroma.sqlite3 cannot be read: {exc}") from exc
    finally:
        conn.close()


@dataclass(frozen=True)
class IdSeqs:
    """The collection's ids and their stamps as of ``read_point``, read in one SQLite transaction.

    :param read_point: the newest sequence number of the collection in that transaction.
    :param pages: ``(id, seq)`` pages of every record the metadata segment holds; consume them inside the
        :func:`id_seqs` block.
    """

    read_point: int
    pages: Iterator[list[tuple[str, int]]]


@contextmanager
def id_seqs(collection: StoreCollection, page: int = PAGE) -> Iterator[IdSeqs]:
    """Every id of the collection with the sequence number of its last write, and the read point they are at.

    One read transaction holds the store's state for the block, so the ids, their stamps and the read point
    agree; keep the block short (a long read may hold up Chroma's writers on a rollback-journal store).

    :raises FilesUnreadable: when ``chroma.sqlite3`` cannot be read or a stamp is in no known encoding.
    """
    conn = connect_readonly(collection.sqlite_path)
    try:
        conn.execute("BEGIN")
        newest = _newest(conn, collection)

        def pages() -> Iterator[list[tuple[str, int]]]:
            cursor = conn.execute("SELECT embedding_id, seq_id FROM embeddings WHERE segment_id = ?",
                                  (collection.metadata_segment,))
            while rows := cursor.fetchmany(page):
                yield [(str(record_id), decode_seq_id(seq)) for record_id, seq in rows]

        yield IdSeqs(newest, pages())
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"chroma.sqlite3 cannot be read: {exc}") from exc
    finally:
        conn.close()


def count_changed_since(collection: StoreCollection, since: int) -> int:
    """How many records were added, updated or upserted after sequence number ``since`` (deletes not counted)."""
    conn = connect_readonly(collection.sqlite_path)
    try:
        return int(scalar(conn, f"SELECT count(*) FROM embeddings WHERE segment_id = ? AND ({_CHANGED})",  # noqa: S608
                          (collection.metadata_segment, since, since.to_bytes(8, "big"))))
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"chroma.sqlite3 cannot be read: {exc}") from exc
    finally:
        conn.close()


def seqs_of(collection: StoreCollection, ids: Sequence[str]) -> dict[str, int]:
    """The sequence number of the last write to each of ``ids`` the collection holds now (absent: not held).

    :raises FilesUnreadable: when ``chroma.sqlite3`` cannot be read or a stamp is in no known encoding.
    """
    unique = list(dict.fromkeys(ids))
    found: dict[str, int] = {}
    conn = connect_readonly(collection.sqlite_path)
    try:
        for start in range(0, len(unique), ID_PARAMS):
            part = unique[start:start + ID_PARAMS]
            # only placeholders are added to the fixed statement: the ids themselves are bound
            query = ("SELECT embedding_id, seq_id FROM embeddings WHERE segment_id = ? AND embedding_id IN ("  # noqa: S608
                     + ", ".join("?" * len(part)) + ")")
            for record_id, seq in conn.execute(query, (collection.metadata_segment, *part)):
                found[str(record_id)] = decode_seq_id(seq)
        return found
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"chroma.sqlite3 cannot be read: {exc}") from exc
    finally:
        conn.close()


def ids_changed_since(collection: StoreCollection, since: int) -> list[str]:
    """The ids added, updated or upserted after sequence number ``since`` (deleted ones are no longer held)."""
    conn = connect_readonly(collection.sqlite_path)
    try:
        return [str(row[0]) for row in conn.execute(
            f"SELECT embedding_id FROM embeddings WHERE segment_id = ? AND ({_CHANGED})",  # noqa: S608
            (collection.metadata_segment, since, since.to_bytes(8, "big")))]
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"chroma.sqlite3 cannot be read: {exc}") from exc
    finally:
        conn.close()
