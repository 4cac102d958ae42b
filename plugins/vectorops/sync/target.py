"""Which live tables a sync brings up to date: the registry's migrated collections of one source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from vectorops.chroma.preflight import CollectionRef
from vectorops.db.sql_files import sql_text
from vectorops.errors import RequestError

MIGRATED, SYNCING, CUT_OVER = "migrated", "syncing", "cut over"


@dataclass(frozen=True)
class SyncTarget:
    """A migrated collection and where its live table stands against its source.

    :param key: the platform's handle for the collection (``collection_key``).
    :param read_point: the source's sequence number the table holds every change up to (``None``: no read point
        was recorded, e.g. a table migrated before live sync existed).
    :param source_collection_id: the Chroma collection id the table was migrated from.
    :param attempt_id: the attempt the live table was promoted from (its quarantine belongs to it).
    """

    key: str
    tenant: str
    database: str
    name: str
    schema: str
    table: str
    space: str
    dimensions: int | None
    embedding_mode: str | None
    embedding_model: str | None
    source_uri: str
    source_collection_id: str | None
    attempt_id: str
    read_point: int | None
    read_point_at: datetime | None
    state: str

    @property
    def ref(self) -> CollectionRef:
        """The collection's identity in its store."""
        return CollectionRef(self.tenant, self.database, self.name)


def select_targets(conn: psycopg.Connection, source_uri: str, asked: Sequence[str],
                   schema: str | None) -> list[SyncTarget]:
    """The migrated collections of ``source_uri`` to sync: those ``asked`` for (by key, label or name), or all.

    :param conn: a connection to the vectors database.
    :param source_uri: the source, as :attr:`~vectorops.chroma.preflight.SourceSpec.uri` spells it.
    :param asked: collection keys, labels or names; empty for every migrated collection of the source.
    :param schema: only tables in this schema, when given.
    :raises RequestError: naming what was asked for and not migrated from this source, and what was.
    """
    rows = conn.execute(sql_text("sync/select_sync_targets"), {"source_uri": source_uri}).fetchall()
    found = [SyncTarget(*row) for row in rows if schema is None or row[4] == schema]
    if not asked:
        if not found:
            raise RequestError(f"no collection was migrated from {source_uri}"
                               f"{f' into schema {schema!r}' if schema else ''}; migrate it first ({_sources(conn)})")
        return found
    chosen: list[SyncTarget] = []
    unknown: list[str] = []
    for name in asked:
        matches = _matches(found, name)
        if len(matches) > 1:
            raise RequestError(f"collection {name!r} is ambiguous: {', '.join(t.key for t in matches)} were "
                               f"migrated from {source_uri}; ask for one by its key")
        if not matches:
            unknown.append(name)
        elif matches[0] not in chosen:
            chosen.append(matches[0])
    if unknown:
        raise RequestError(f"collection(s) {', '.join(map(repr, unknown))} were not migrated from {source_uri}"
                           f"{f' into schema {schema!r}' if schema else ''}; migrated from it: "
                           f"{', '.join(repr(t.key) for t in found) if found else f'none ({_sources(conn)})'}")
    return chosen


def _matches(found: list[SyncTarget], name: str) -> list[SyncTarget]:
    """The collections ``name`` asks for: its key, else its label or path (a bare name is Chroma's default tenant
    and database), else a collection of that name in any tenant."""
    for hit in (lambda t: name == t.key, lambda t: name in (t.ref.label, t.ref.path), lambda t: name == t.name):
        if matches := [t for t in found if hit(t)]:
            return matches
    return []


def _sources(conn: psycopg.Connection) -> str:
    """Where collections were migrated from, the most recent first: the hint for a sync asked of a source nothing
    came from."""
    sources = [str(r[0]) for r in conn.execute(sql_text("sync/select_migrated_sources"))]
    if not sources:
        return "nothing was migrated yet"
    more = f" and {len(sources) - 5} more" if len(sources) > 5 else ""
    return f"collections were migrated from: {', '.join(sources[:5])}{more}"
