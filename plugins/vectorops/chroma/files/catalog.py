"""A local Chroma store's collections, read from ``chroma.sqlite3`` alone: every tenant and database.

Chroma's client lists only the tenant and database it was opened with, and writes to the store when it opens it.
This reads the system tables read-only, as every Chroma from 0.4 to 1.5 lays them out (``topic`` columns in 0.4,
no ``config_json_str`` before 0.5.4, no ``schema_str`` before 1.3, booleans in ``int_value`` before 0.5), and
describes each collection the way the Chroma that wrote the store resolves it (:mod:`vectorops.chroma.settings`):
distance space, HNSW parameters, embedding function.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vectorops.chroma.files.layout import HNSW_SEGMENT, connect_readonly
from vectorops.chroma.files.versions import applied_migrations, columns, has_table, writer_of
from vectorops.chroma.preflight import DEFAULT_DATABASE, DEFAULT_TENANT, SQLITE_FILE, CollectionRef
from vectorops.chroma.settings import IndexSettings, resolve_settings
from vectorops.errors import FilesUnreadable


@dataclass(frozen=True)
class CatalogEntry:
    """One collection as the store's system tables describe it.

    :param metadata: the collection's metadata, each value with the type Chroma returns (``{}`` for none).
    :param configuration: ``config_json_str`` parsed (``{}`` for none).
    :param schema: ``schema_str`` parsed (``{}`` for none, and before 1.3).
    :param writer: ``python`` (chromadb 0.4–0.6) or ``rust`` (1.x), from the store's migrations.
    :param problem: why the collection's settings cannot be resolved (``settings`` is then ``None``): one such
        collection does not keep the others of the store from being listed and migrated.
    """

    ref: CollectionRef
    collection_id: str
    dimension: int | None
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    settings: IndexSettings | None
    schema: dict[str, Any] = field(default_factory=dict)
    writer: str = "rust"
    problem: str | None = None


def _json(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _metadata(conn: sqlite3.Connection, query: str) -> dict[str, dict[str, Any]]:
    """Metadata by owner id from ``query`` (owner, key, str, int, float, bool), as Chroma reads it back: the first
    value set of str, int, float, bool (``_metadata_from_rows`` in 0.x, ``metadata_from_rows`` in 1.x)."""
    found: dict[str, dict[str, Any]] = {}
    for owner, key, text, number, real, boolean in conn.execute(query):
        value = (text if text is not None else number if number is not None else real if real is not None
                 else bool(boolean) if boolean is not None else None)
        if value is not None:
            found.setdefault(str(owner), {})[str(key)] = value
    return found


def _collection_metadata(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    flag = "bool_value" if "bool_value" in columns(conn, "collection_metadata") else "NULL"
    return _metadata(conn, f"SELECT collection_id, key, str_value, int_value, float_value, {flag} "  # noqa: S608
                           "FROM collection_metadata")


def _vector_segment_metadata(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """The HNSW segments' metadata by collection id: where Chroma's index reads the legacy ``hnsw:*`` keys."""
    if not has_table(conn, "segment_metadata"):
        return {}
    flag = "m.bool_value" if "bool_value" in columns(conn, "segment_metadata") else "NULL"
    return _metadata(conn, f"""SELECT s.collection, m.key, m.str_value, m.int_value, m.float_value, {flag}
                              FROM segments s JOIN segment_metadata m ON m.segment_id = s.id
                              WHERE s.type = '{HNSW_SEGMENT}'""")  # noqa: S608 (fixed fragments)


def read_catalog(path: str | Path) -> list[CatalogEntry]:
    """Every collection of the store at ``path``, in every tenant and database, sorted by tenant, database, name.

    A collection whose settings no known Chroma writes (another space, a newer Chroma's index setting) is listed
    with its ``problem`` and no ``settings``, so it does not keep the store's other collections from migrating.

    :raises FilesUnreadable: when the system tables are not in a layout this reader knows.
    """
    database = Path(path) / SQLITE_FILE
    try:
        conn = connect_readonly(database)
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"{SQLITE_FILE} cannot be opened read-only: {exc}") from exc
    try:
        writer = writer_of(applied_migrations(conn))
        found = columns(conn, "collections")
        config = "c.config_json_str" if "config_json_str" in found else "NULL"
        schema = "c.schema_str" if "schema_str" in found else "NULL"
        if "database_id" in found:
            rows = conn.execute(
                f"""SELECT d.tenant_id, d.name, c.name, c.id, c.dimension, {config}, {schema}
                    FROM collections c JOIN databases d ON d.id = c.database_id""").fetchall()  # noqa: S608
        else:  # before tenants and databases (chromadb < 0.4.16): all in the defaults
            rows = [(DEFAULT_TENANT, DEFAULT_DATABASE, *r) for r in conn.execute(
                f"SELECT c.name, c.id, c.dimension, {config}, {schema} FROM collections c").fetchall()]  # noqa: S608
        metadata = _collection_metadata(conn)
        segment_metadata = _vector_segment_metadata(conn)
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"{SQLITE_FILE}'s system tables are not in a known layout: {exc}") from exc
    finally:
        conn.close()
    entries = []
    for tenant, db_name, name, collection_id, dimension, config_text, schema_text in rows:
        meta = metadata.get(str(collection_id), {})
        configuration, schema_value = _json(config_text), _json(schema_text)
        ref = CollectionRef(str(tenant), str(db_name), str(name))
        settings: IndexSettings | None = None
        problem = None
        try:
            settings = resolve_settings(meta, configuration, schema_value, writer=writer,
                                        segment_metadata=segment_metadata.get(str(collection_id), {}))
        except ValueError as exc:
            problem = f"collection {ref.label!r}: {exc}"
        entries.append(CatalogEntry(
            ref=ref, collection_id=str(collection_id), dimension=dimension if isinstance(dimension, int) else None,
            metadata=meta, configuration=configuration, schema=schema_value, writer=writer, settings=settings,
            problem=problem))
    return sorted(entries, key=lambda e: e.ref)


def find(path: str | Path, ref: CollectionRef) -> CatalogEntry | None:
    """The catalog entry of ``ref``, or ``None`` when the store has no such collection."""
    return next((e for e in read_catalog(path) if e.ref == ref), None)
