"""Writing quarantined records: the reason and the original payload of each record PostgreSQL cannot hold."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psycopg

from vectorops.db.sql_files import sql_text
from vectorops.records import SourceRecord, printable_id, quarantine_payload

log = logging.getLogger(__name__)

#: (record id as PostgreSQL text holds it, reason, original payload)
Entry = tuple[str, str, bytes]


def entry(record_id: str, embedding: Any, document: str | None, metadata: Mapping[str, Any] | None,
          uri: str | None, reason: str) -> Entry:
    """The quarantine entry of one record as read from the source (``embedding`` may be ``None``)."""
    vector = None if embedding is None else np.asarray(embedding, dtype=np.float32)
    record = SourceRecord(record_id, vector, document, metadata, uri)
    return printable_id(record_id), reason, quarantine_payload(record)


def store(conn: psycopg.Connection, *, collection: str, attempt_id: str, run_id: str,
          entries: Sequence[Entry]) -> None:
    """Insert ``entries`` into ``vectorops.quarantine`` (in the caller's transaction) and log each one."""
    if not entries:
        return
    with conn.cursor() as cur:
        cur.executemany(sql_text("load/insert_quarantine"),
                        [(collection, rid, reason, payload, attempt_id, run_id) for rid, reason, payload in entries])
    for rid, reason, _ in entries:  # an id may be kilobytes long: its head names it in the log
        log.warning("collection %r: record %s quarantined: %s", collection,
                    rid if len(rid) <= 200 else f"{rid[:200]}… ({len(rid)} characters)", reason)
