"""Where a source collection goes on the platform: its key and its live table, decided by its source identity.

A collection is identified by its source: store (``source_uri``), tenant, database and name. The registry keeps
one row per identity; two stores that both hold a ``docs`` get distinct keys and tables, so neither repoints,
supersedes or quarantines the other's.
"""

from __future__ import annotations

import hashlib
from typing import Any

from vectorops.chroma.preflight import CollectionRef
from vectorops.db import ownership
from vectorops.db.sql_files import sql_text
from vectorops.errors import TargetRefused
from vectorops.naming import INDEX_SUFFIXES, previous_name, table_name_for


def _registered(conn: Any, source_uri: str, ref: CollectionRef) -> list[tuple[str, str, str]]:
    """``(collection_key, table_schema, table_name)`` of every registry row of this source collection."""
    return [(str(r[0]), str(r[1]), str(r[2])) for r in conn.execute(
        sql_text("registry/select_source_entries"),
        (source_uri, ref.tenant, ref.database, ref.name))]


def elsewhere(conn: Any, source_uri: str, ref: CollectionRef, schema: str) -> list[tuple[str, str, str]]:
    """The registry rows of this source collection in schemas other than ``schema``."""
    return [row for row in _registered(conn, source_uri, ref) if row[1] != schema]


def check_previous(conn: Any, source_uri: str, ref: CollectionRef, schema: str, previous_table: str) -> None:
    """Refuse to migrate a collection into ``schema`` when it lives in another schema and the request did not say
    what happens to that table (a silent second migration would leave it unregistered, so unvalidated and
    unmonitored).

    :raises TargetRefused: naming the table and the choices.
    """
    rows = _registered(conn, source_uri, ref)
    others = [row for row in rows if row[1] != schema]
    if others and previous_table == "refuse" and len(others) == len(rows):
        tables = ", ".join(f"{s}.{t}" for _k, s, t in others)
        raise TargetRefused(
            f"collection {ref.label!r} of {source_uri} is already migrated to {tables}; to migrate it into schema "
            f"{schema!r} as well, set previous_table: 'keep' ({tables} stays, still validated and monitored under "
            f"its own key) or 'drop' ({tables} is dropped once the new table is promoted)")


def collection_key_for(conn: Any, source_uri: str, ref: CollectionRef, schema: str,
                       previous_table: str = "refuse") -> str:
    """The platform's key for the collection ``ref`` of ``source_uri`` in ``schema``: what claims, runs,
    quarantine and validation rows call ``collection``, unique per source identity.

    The key the registry records for this identity (in this schema; with ``previous_table='drop'`` the key of the
    table it replaces); else its label (``docs``, ``acme/prod/docs``), unless another identity goes by it
    (registered, or in an unfinished attempt that a new claim would supersede): then ``label@`` and 8 hex digits
    of the store's SHA-256 (of the store and schema when that is taken too), so two never share a claim, an
    attempt's shadow table or quarantine rows.
    """
    rows = _registered(conn, source_uri, ref)
    here = [key for key, table_schema, _t in rows if table_schema == schema]
    if here:
        return here[0]
    if rows and previous_table == "drop":  # the label's own key when one of the dropped tables has it
        keys = [key for key, _s, _t in rows]
        return ref.label if ref.label in keys else keys[0]
    digest = hashlib.sha256(source_uri.encode()).hexdigest()[:8]
    in_schema = hashlib.sha256(f"{source_uri}\0{schema}".encode()).hexdigest()[:8]
    for key in (ref.label, f"{ref.label}@{digest}", f"{ref.label}@{in_schema}"):
        taken = conn.execute(sql_text("registry/select_key_taken_by_other"),
                             {"key": key, "uri": source_uri, "schema": schema}).fetchone()
        if taken is None:
            return key
    raise TargetRefused(f"collection {ref.label!r} of {source_uri}: keys {ref.label!r}, {ref.label}@{digest} and "
                        f"{ref.label}@{in_schema} are all taken by other collections")


def table_for(conn: Any, source_uri: str, ref: CollectionRef, schema: str) -> str:
    """The live table of the collection ``ref`` of ``source_uri`` in ``schema``.

    The one the registry records for this source identity, else :func:`table_name_for` of its label; when that
    table belongs to another source's collection (two stores both with a ``docs``), a name hashed from the
    store and the label, so neither repoints the other. A table vectorops did not create is never taken over.

    :raises TargetRefused: when even that table belongs to another collection.
    :raises ownership.NotCreatedByVectorops: when the name is taken by a table vectorops did not create.
    """
    row = conn.execute(sql_text("registry/select_source_table"),
                       (source_uri, ref.tenant, ref.database, ref.name, schema)).fetchone()
    if row:
        table = str(row[0])
    else:
        for candidate in (table_name_for(ref.label), table_name_for(f"{ref.path}@{source_uri}")):
            owner = _table_owner(conn, schema, candidate)
            if owner is None:
                break
        else:
            raise TargetRefused(f"collection {ref.label!r} of {source_uri} maps to table {schema}.{candidate}, "
                                f"which already holds collection {owner!r}")
        table = candidate
    prev = previous_name(table)
    for name in (table, prev):
        ownership.require_absent_or_ours(conn, schema, name)
        for suffix in INDEX_SUFFIXES:  # the names promotion gives the indexes
            ownership.require_index_name_free(conn, schema, name + suffix, (table, prev))
    return table


def _table_owner(conn: Any, schema: str, table: str) -> str | None:
    """Which source collection holds ``schema.table`` in the registry (``uri tenant/database/name``), or None."""
    row = conn.execute(sql_text("registry/select_table_source"), (schema, table)).fetchone()
    return None if row is None else f"{row[0]} {row[1]}/{row[2]}/{row[3]}"


def check_target(conn: Any, source_uri: str, ref: CollectionRef, schema: str, previous_table: str) -> str:
    """Everything a migration of ``ref`` into ``schema`` must be allowed before it writes anything.

    :return: the live table it would write.
    :raises TargetRefused: when the collection lives in another schema and the request did not say what happens
        to that table, or when the table to drop there was not created by vectorops.
    :raises ownership.NotCreatedByVectorops: when the live table, its ``__prev``, a name their indexes get, or
        the schema itself exists and was not created by vectorops.
    """
    check_previous(conn, source_uri, ref, schema, previous_table)
    if previous_table == "drop":
        for _key, old_schema, old_table in elsewhere(conn, source_uri, ref, schema):
            for name in (old_table, previous_name(old_table)):
                ownership.require_absent_or_ours(conn, old_schema, name)
    table = table_for(conn, source_uri, ref, schema)
    ownership.require_schema_ours_or_absent(conn, schema)
    return table
