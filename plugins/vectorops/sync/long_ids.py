"""A batch's long ids, upserted one at a time: the live table's key refuses an id that does not compress into a
btree entry, and that record goes to quarantine with its payload instead of failing the batch (and every sync
after it), as a migration's staging does (:mod:`vectorops.load.unkeyable_ids`).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from vectorops.chroma.source import RecordBatch
from vectorops.db.sql_files import sql_text, statement
from vectorops.load import quarantine, unkeyable_ids

BATCH_TABLE = sql.Identifier("pg_temp", "vectorops_sync_rows")


def upsert_long_ids(conn: psycopg.Connection, table: sql.Identifier, records: RecordBatch
                    ) -> tuple[int, int, list[quarantine.Entry]]:
    """Upsert the batch table's rows with long ids into ``table`` one by one, and take them out of the batch.

    :param conn: a connection inside the batch's transaction, the batch COPYed into its session's batch table.
    :param table: the live table.
    :param records: the batch as read from the source (the payload of a refused record).
    :returns: rows inserted, rows updated, and the quarantine entries of the ids the key refused.
    """
    long_ids = [str(r[0]) for r in conn.execute(sql_text("sync/select_long_sync_rows"),
                                                {"bytes": unkeyable_ids.LONG_ID_BYTES})]
    if not long_ids:
        return 0, 0, []
    added = updated = 0
    refused: list[str] = []
    for record_id in long_ids:
        try:
            with conn.transaction():
                for (inserted,) in conn.execute(statement("sync/upsert_live_record", table=table,
                                                          batch=BATCH_TABLE), {"id": record_id}):
                    added, updated = added + bool(inserted), updated + (not inserted)
        except psycopg.errors.ProgramLimitExceeded:
            refused.append(record_id)
    conn.execute(sql_text("sync/delete_sync_rows"), (long_ids,))
    index = {record_id: i for i, record_id in enumerate(records.ids)}
    entries = []
    for record_id in refused:
        i = index[record_id]
        vector = records.embeddings[i] if records.embeddings is not None else None
        entries.append(quarantine.entry(record_id, vector, records.documents[i], records.metadatas[i],
                                        records.uris[i], unkeyable_ids.reason(record_id.encode("utf-8"))))
    return added, updated, entries
