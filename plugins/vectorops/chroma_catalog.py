"""A local Chroma store's collections, read from ``chroma.sqlite3`` alone: every tenant and database.

Chroma's client lists only the tenant and database it was opened with, and writes to the store when it opens it.
This reads the system tables read-only and describes each collection the way the Chroma that wrote the store
resolves it (:mod:`vectorops.chroma_settings`): distance space, HNSW parameters, embedding function.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorops.chroma_layout import FilesUnreadable, connect_readonly
from vectorops.chroma_settings import IndexSettings, resolve_settings
from vectorops.chroma_store import DEFAULT_DATABASE, DEFAULT_TENANT, SQLITE_FILE, CollectionRef


@dataclass(frozen=True)
class CatalogEntry:
    """One collection as the store's system tables describe it."""

    ref: CollectionRef
    collection_id: str
    dimension: int | None
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    settings: IndexSettings


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _json(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _metadata(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Collection metadata by collection id, each value with the type Chroma stored."""
    columns = _columns(conn, "collection_metadata")
    flag = "bool_value" if "bool_value" in columns else "NULL"
    found: dict[str, dict[str, Any]] = {}
    rows = conn.execute(f"SELECT collection_id, key, str_value, int_value, float_value, {flag} "  # noqa: S608
                        "FROM collection_metadata")
    for collection_id, key, text, number, real, boolean in rows:
        value = (text if text is not None else bool(boolean) if boolean is not None
                 else number if number is not None else real)
        found.setdefault(collection_id, {})[key] = value
    return found


def read_catalog(path: str | Path) -> list[CatalogEntry]:
    """Every collection of the store at ``path``, in every tenant and database, sorted by tenant, database, name.

    :raises FilesUnreadable: when the system tables are not in a layout this reader knows.
    """
    database = Path(path) / SQLITE_FILE
    try:
        conn = connect_readonly(database)
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"{SQLITE_FILE} cannot be opened read-only: {exc}") from exc
    try:
        columns = _columns(conn, "collections")
        config = "c.config_json_str" if "config_json_str" in columns else "NULL"
        schema = "c.schema_str" if "schema_str" in columns else "NULL"
        if "database_id" in columns:
            rows = conn.execute(
                f"""SELECT d.tenant_id, d.name, c.name, c.id, c.dimension, {config}, {schema}
                    FROM collections c JOIN databases d ON d.id = c.database_id""").fetchall()  # noqa: S608
        else:  # before tenants and databases (chromadb < 0.4.16): all in the defaults
            rows = [(DEFAULT_TENANT, DEFAULT_DATABASE, *r) for r in conn.execute(
                f"SELECT c.name, c.id, c.dimension, {config}, {schema} FROM collections c").fetchall()]  # noqa: S608
        metadata = _metadata(conn)
    except sqlite3.Error as exc:
        raise FilesUnreadable(f"{SQLITE_FILE}'s system tables are not in a known layout: {exc}") from exc
    finally:
        conn.close()
    entries = []
    for tenant, db_name, name, collection_id, dimension, config_text, schema_text in rows:
        meta = metadata.get(collection_id, {})
        configuration = _json(config_text)
        entries.append(CatalogEntry(
            ref=CollectionRef(str(tenant), str(db_name), str(name)), collection_id=str(collection_id),
            dimension=dimension if isinstance(dimension, int) else None, metadata=meta, configuration=configuration,
            settings=resolve_settings(meta, configuration, _json(schema_text))))
    return sorted(entries, key=lambda e: e.ref)


def find(path: str | Path, ref: CollectionRef) -> CatalogEntry | None:
    """The catalog entry of ``ref``, or ``None`` when the store has no such collection."""
    return next((e for e in read_catalog(path) if e.ref == ref), None)
