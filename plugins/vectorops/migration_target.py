"""Where a source collection goes on the platform: its key and its live table, decided by its source identity.

A collection is identified by its source: store (``source_uri``), tenant, database and name. The registry keeps
one row per identity; two stores that both hold a ``docs`` get distinct keys and tables, so neither repoints,
supersedes or quarantines the other's.
"""

from __future__ import annotations

import hashlib
from typing import Any

from vectorops.chroma_store import CollectionRef
from vectorops.naming import table_name_for


def collection_key_for(conn: Any, source_uri: str, ref: CollectionRef) -> str:
    """The platform's key for the collection ``ref`` of ``source_uri``: what claims, runs, quarantine and
    validation rows call ``collection``, unique per source identity.

    The key the registry records for this identity; else its label (``docs``, ``acme/prod/docs``), unless another
    source's collection goes by it (registered, or in an unfinished attempt that a new claim would supersede):
    then ``label@`` and 8 hex digits of the store's SHA-256, so the two never share a claim, an attempt's shadow
    table or quarantine rows.
    """
    row = conn.execute("""SELECT collection_key FROM vectorops.collection_registry
                          WHERE source_uri = %s AND tenant = %s AND database = %s AND collection = %s""",
                       (source_uri, ref.tenant, ref.database, ref.name)).fetchone()
    if row:
        return str(row[0])
    taken = conn.execute(
        """SELECT 1 FROM vectorops.collection_registry WHERE collection_key = %(key)s
                  AND source_uri IS DISTINCT FROM %(uri)s
           UNION ALL
           SELECT 1 FROM vectorops.migration_runs WHERE collection = %(key)s AND source_uri IS DISTINCT FROM %(uri)s
                  AND status IN ('scanning', 'loading', 'failed', 'rejected')
           LIMIT 1""", {"key": ref.label, "uri": source_uri}).fetchone()
    if taken is None:
        return ref.label
    return f"{ref.label}@{hashlib.sha256(source_uri.encode()).hexdigest()[:8]}"


def table_for(conn: Any, source_uri: str, ref: CollectionRef, schema: str) -> str:
    """The live table of the collection ``ref`` of ``source_uri`` in ``schema``.

    The one the registry records for this source identity, else :func:`table_name_for` of its label; when that
    table belongs to another source's collection (two stores both with a ``docs``), a name hashed from the
    store and the label, so neither repoints the other.

    :raises ValueError: when even that table belongs to another collection.
    """
    row = conn.execute("""SELECT table_name FROM vectorops.collection_registry
                          WHERE source_uri = %s AND tenant = %s AND database = %s AND collection = %s
                            AND table_schema = %s""", (source_uri, ref.tenant, ref.database, ref.name, schema)
                       ).fetchone()
    if row:
        return str(row[0])
    for candidate in (table_name_for(ref.label), table_name_for(f"{ref.path}@{source_uri}")):
        owner = _table_owner(conn, schema, candidate)
        if owner is None:
            return candidate
    raise ValueError(f"collection {ref.label!r} of {source_uri} maps to table {schema}.{candidate}, which already "
                     f"holds collection {owner!r}")


def _table_owner(conn: Any, schema: str, table: str) -> str | None:
    """Which source collection holds ``schema.table`` in the registry (``uri tenant/database/name``), or None."""
    row = conn.execute("""SELECT source_uri, tenant, database, collection FROM vectorops.collection_registry
                          WHERE table_schema = %s AND table_name = %s""", (schema, table)).fetchone()
    return None if row is None else f"{row[0]} {row[1]}/{row[2]}/{row[3]}"
