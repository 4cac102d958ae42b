"""A local collection's records in id byte order: the order parity merges a table and its source in.

The ids and their element positions are read in one pass over the files and sorted by PostgreSQL (``COLLATE
"C"`` sorts text by its UTF-8 bytes), then read back a page at a time, so memory stays flat at any size.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg

from vectorops.chroma.files import reader as files_reader
from vectorops.chroma.source import RecordBatch
from vectorops.db.sql_files import sql_text
from vectorops.sync.changeset import storable_id


def records_in_id_order(conn: psycopg.Connection, files: files_reader.StoreCollection, page: int
                        ) -> Iterator[RecordBatch]:
    """Every record of ``files`` in id byte order, ``page`` at a time; ids PostgreSQL text cannot hold come last.

    :param conn: an autocommit connection to the vectors database (the temporary table is its session's).
    :param files: the collection located in its store's files.
    :param page: records per batch.
    :raises FilesUnreadable: when the files are not as located (the caller checks the stamp).
    """
    conn.execute(sql_text("sync/create_cutover_ids"))
    conn.execute("TRUNCATE pg_temp.vectorops_cutover_ids")
    untextable: list[tuple[str, int]] = []
    with conn.cursor().copy("COPY pg_temp.vectorops_cutover_ids (id, position) FROM STDIN") as copy:
        for ids, positions in files_reader.iter_id_positions(files):
            for record_id, position in zip(ids, positions.tolist(), strict=True):
                if storable_id(record_id):
                    copy.write_row((record_id, position))
                else:
                    untextable.append((record_id, position))
    with files_reader.StoreReader(files) as reader, conn.transaction(), conn.cursor(name="vectorops_cutover") as cur:
        cur.itersize = page
        cur.execute("SELECT id, position FROM pg_temp.vectorops_cutover_ids ORDER BY id")
        while rows := cur.fetchmany(page):
            yield _read(reader, [str(r[0]) for r in rows], [int(r[1]) for r in rows])
        for start in range(0, len(untextable), page):
            part = untextable[start:start + page]
            yield _read(reader, [i for i, _ in part], [p for _, p in part])


def _read(reader: files_reader.StoreReader, ids: list[str], positions: list[int]) -> RecordBatch:
    documents, metadatas, uris = reader.fields(ids)
    return RecordBatch(ids=ids, embeddings=reader.vectors(positions, ids), documents=documents, metadatas=metadatas,
                       uris=uris)
