"""What a sync must apply: the source's records written since the table's read point, and its deletes.

The source's ids and their sequence numbers are read in one SQLite transaction, together with the read point
they stand at, and COPYed into a temporary table; two anti-joins with the live table then give the records to
read (written after the read point, or missing from the table) and the rows to delete (ids the source no longer
holds). Only ids cross the wire for the unchanged records, so the cost of a sync is one id scan plus the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from vectorops.chroma.files import changes
from vectorops.chroma.files.reader import StoreCollection
from vectorops.db.sql_files import sql_text, statement
from vectorops.errors import UnstorableValue
from vectorops.records import check_text, printable_id


@dataclass(frozen=True)
class ChangeSet:
    """The changes of one collection since a read point.

    :param read_point: the source's newest sequence number when the ids were listed: applying every change
        below makes the table equal the source as of this point.
    :param listed_at: when the ids were listed.
    :param source_count: records the source held at ``read_point``.
    :param changed: ``(id, seq)`` of each record to read and apply (added, updated or upserted after the table's
        read point, or missing from the table), in sequence order.
    :param deleted: ids of table rows the source no longer holds.
    :param cleared: quarantined record ids (as quarantined) the source no longer holds.
    """

    read_point: int
    listed_at: datetime
    source_count: int
    changed: list[tuple[str, int]]
    deleted: list[str]
    cleared: list[str]


def storable_id(record_id: str) -> bool:
    """Whether PostgreSQL text can hold ``record_id`` (no NUL, no lone surrogate)."""
    try:
        check_text(record_id, "id")
    except UnstorableValue:
        return False
    return True


def _copy_ids(conn: psycopg.Connection, pages: Iterable[list[tuple[str, int]]],
              untextable: list[tuple[str, int]]) -> int:
    """COPY the pages into the session's source table; ids PostgreSQL text cannot hold go to ``untextable``."""
    count = 0
    with conn.cursor().copy("COPY pg_temp.vectorops_sync_source (id, seq) FROM STDIN") as copy:
        for page in pages:
            for record_id, seq in page:
                if storable_id(record_id):
                    copy.write_row((record_id, seq))
                else:
                    untextable.append((record_id, seq))
            count += len(page)
    return count


def list_changes(conn: psycopg.Connection, files: StoreCollection, table: sql.Identifier, since: int | None,
                 quarantined: set[str]) -> ChangeSet:
    """List what changed in ``files`` since read point ``since`` against the live ``table``.

    :param conn: a connection to the vectors database, outside a transaction (the temporary table is the
        session's).
    :param files: the collection located in its store's files.
    :param table: the live table.
    :param since: the table's read point; ``None`` reads every record again.
    :param quarantined: the collection's quarantined record ids that still count (as quarantined).
    """
    conn.execute(sql_text("sync/create_sync_source"))
    conn.execute("TRUNCATE pg_temp.vectorops_sync_source")
    untextable: list[tuple[str, int]] = []
    with changes.id_seqs(files) as snapshot:
        listed_at = datetime.now(UTC)
        count = _copy_ids(conn, snapshot.pages, untextable)
    conn.execute("ANALYZE pg_temp.vectorops_sync_source")
    point = -1 if since is None else since
    rows = conn.execute(statement("sync/select_changed_records", table=table), {"read_point": point}).fetchall()
    # a record quarantined before and not written since stays quarantined: reading it again changes nothing
    changed = [(str(i), int(s)) for i, s in rows if s > point or i not in quarantined]
    changed += [(i, s) for i, s in untextable if s > point or printable_id(i) not in quarantined]
    changed.sort(key=lambda pair: pair[1])
    deleted = [str(r[0]) for r in conn.execute(statement("sync/select_deleted_records", table=table))]
    held_untextable = {printable_id(i) for i, _ in untextable}
    absent = conn.execute(sql_text("sync/select_absent_quarantined"), (sorted(quarantined),)).fetchall()
    cleared = [str(r[0]) for r in absent if r[0] not in held_untextable]
    return ChangeSet(read_point=max(snapshot.read_point, point), listed_at=listed_at, source_count=count,
                     changed=changed, deleted=deleted, cleared=cleared)
