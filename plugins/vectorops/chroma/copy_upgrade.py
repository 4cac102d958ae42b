"""Make a *private copy* of a chromadb 0.4–0.6 store openable by the installed (1.x) Chroma client.

The 1.x client cannot read what the Python Chroma of 0.4–0.6 left on disk: it panics on the log rows that Python
wrote (metadata ``NULL``, or ``"chroma:document": null``; "Document not found in metadata") and cannot load the
pickled ``PersistentData`` object in ``index_metadata.pickle``. vectorops never changes a user's store, so this
only ever runs on a copy :mod:`vectorops.chroma.snapshot` made, where it rewrites:

* each ``index_metadata.pickle`` that holds a ``PersistentData`` object into the plain dict 1.x writes (same ids and
  labels; read opcode by opcode by :mod:`vectorops.chroma.files.hnsw_pickle`, never unpickled);
* the vector segment's log position, which 0.4 keeps only in that pickle, into the ``max_seq_id`` table;
* the metadata of log rows into ``{}``, only where the metadata segment has already applied the whole log (the
  rows then only feed the vector segment, which reads their vectors).

The copy's data stays the store's data: what Chroma 1.x answers from it is an independent reading of the same HNSW
files and log, which the validation gate compares with the migrated table.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
from pathlib import Path

from vectorops.chroma.files import hnsw_pickle, versions
from vectorops.chroma.preflight import SQLITE_FILE

log = logging.getLogger(__name__)

PICKLE = "index_metadata.pickle"


def _plain_pickle(path: Path) -> int | None:
    """Rewrite one ``PersistentData`` pickle as 1.x's dict; return the log position it recorded, if any."""
    header = hnsw_pickle.read_header(path)
    if not header.is_object:
        return None
    with open(path, "rb", buffering=1 << 20) as handle:
        id_to_label = dict(hnsw_pickle.PickleStream(handle).id_to_label())
    plain = {"dimensionality": None, "total_elements_added": header.total_elements_added or len(id_to_label),
             "max_seq_id": None, "id_to_label": id_to_label,
             "label_to_id": {label: record_id for record_id, label in id_to_label.items()}, "id_to_seq_id": {}}
    path.write_bytes(pickle.dumps(plain, protocol=3))
    return header.max_seq_id


def _log_applied_by_metadata(conn: sqlite3.Connection) -> bool:
    """Whether every metadata segment has applied every log row of its collection."""
    rows = conn.execute(
        """SELECT s.id, (SELECT m.seq_id FROM max_seq_id m WHERE m.segment_id = s.id), s.collection
           FROM segments s WHERE s.scope = 'METADATA'""").fetchall()
    for _, applied, collection in rows:
        newest = conn.execute("SELECT max(seq_id) FROM embeddings_queue WHERE topic LIKE ?",
                              (f"%/{collection}",)).fetchone()[0]
        if newest is not None and (applied is None or versions.decode_seq_id(applied) < newest):
            return False
    return True


def upgrade_copy(copy: Path) -> bool:
    """Prepare the private copy ``copy`` of a Python-written store for the installed client; return whether it was.

    A store last written by a 1.x Chroma is left as it is.
    """
    conn = sqlite3.connect(copy / SQLITE_FILE, isolation_level=None)
    try:
        if versions.writer_of(versions.applied_migrations(conn)) != versions.PYTHON:
            return False
        conn.execute("BEGIN")
        for pickled in sorted(copy.glob(f"*/{PICKLE}")):
            position = _plain_pickle(pickled)
            known = conn.execute("SELECT 1 FROM max_seq_id WHERE segment_id = ?", (pickled.parent.name,)).fetchone()
            if position is not None and known is None:
                conn.execute("INSERT INTO max_seq_id (segment_id, seq_id) VALUES (?, ?)",
                             (pickled.parent.name, position.to_bytes(8, "big")))
        if _log_applied_by_metadata(conn):
            conn.execute("UPDATE embeddings_queue SET metadata = '{}' WHERE metadata IS NULL OR metadata <> '{}'")
        conn.execute("COMMIT")
    finally:
        conn.close()
    log.info("private copy %s: a chromadb 0.4–0.6 store, rewritten where chromadb %s cannot read it (pickled "
             "PersistentData, Python-written log rows)", copy, _client_version())
    return True


def _client_version() -> str:
    from vectorops.chroma.preflight import chromadb_version

    return chromadb_version()
