"""The replication slot an external server's WAL is streamed through: named after the repository, created by
vectorops and recorded in it (:data:`RECEIVER`), and only a slot so recorded is ever used or dropped. While it
exists the server keeps every segment the receiver has not had yet."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import psycopg

from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import write_private
from vectorops.config import Settings
from vectorops.db import runtime

log = logging.getLogger(__name__)

#: the slot vectorops created on the external server, recorded in the repository
RECEIVER = "receiver.json"


def slot_name(settings: Settings) -> str:
    """The slot of this repository: two repositories streaming from one server never share one."""
    return "vectorops_pitr_" + hashlib.sha256(str(settings.pitr.directory).encode()).hexdigest()[:12]


def _recorded(settings: Settings) -> dict[str, Any] | None:
    path = settings.pitr.directory / RECEIVER
    if not path.is_file():
        return None
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as exc:
        raise BackupError(f"the receiver's record {path} is unreadable: {exc}") from exc


def ensure_slot(settings: Settings) -> str:
    """Create this repository's slot on the external server when it has none of that name, and record it; a slot of
    that name vectorops did not record is someone else's: refused. A base backup creates it first, so the server
    keeps every segment from then on until the receiver has it.

    :return: the slot's name.
    :raises BackupError: naming the slot.
    """
    runtime.server_directory(settings.pitr.directory)
    slot = slot_name(settings)
    with psycopg.connect(settings.external_dsn or "", autocommit=True, connect_timeout=10) as conn:
        found = conn.execute("SELECT slot_type FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
    recorded = _recorded(settings)
    if found is not None:
        if recorded is None or recorded.get("slot") != slot:
            raise BackupError(f"the external server has a replication slot {slot} that this repository did not "
                              f"create ({settings.pitr.directory / RECEIVER} does not name it): never used; drop it "
                              "or point VECTOROPS_PITR_DIR at the repository that created it")
        return slot
    # recorded before it exists: a slot vectorops made is never left unrecorded (a record of a slot that was never
    # made is harmless: the next run makes it)
    write_private(settings.pitr.directory / RECEIVER, json.dumps(
        {"slot": slot, "created_at": datetime.now(UTC).isoformat()}, indent=2).encode())
    with psycopg.connect(settings.external_dsn or "", autocommit=True, connect_timeout=10) as conn:
        try:
            # reserved now: the server keeps every segment from this moment (the base backup after it) on
            conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", (slot,))
        except psycopg.Error as exc:
            raise BackupError(f"could not create the replication slot {slot} on the external server: "
                              f"{str(exc).strip().splitlines()[0]}") from None
    log.info("created the replication slot %s on the external server: it keeps the WAL not received yet", slot)
    return slot


def drop_receiver_slot(settings: Settings) -> str | None:
    """Drop the replication slot this repository's receiver created (and only that one), so that the external server
    stops keeping WAL for it; the record goes with it.

    :return: the slot dropped, ``None`` when the repository records none.
    :raises BackupError: when the slot is in use (a receiver runs) or cannot be dropped.
    """
    recorded = _recorded(settings)
    if recorded is None:
        return None
    slot = str(recorded["slot"])
    with psycopg.connect(settings.external_dsn or "", autocommit=True, connect_timeout=10) as conn:
        try:
            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                         (slot,))
        except psycopg.errors.ObjectInUse:
            raise BackupError(f"replication slot {slot} is in use by a running receiver: stop it first") from None
    (settings.pitr.directory / RECEIVER).unlink()
    log.info("dropped the replication slot %s: the external server no longer keeps WAL for this repository", slot)
    return slot
