"""What maintenance needs to know about each live table, read from the registry and PostgreSQL's statistics."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from vectorops.db import ownership
from vectorops.db.sql_files import sql_text
from vectorops.errors import RequestError
from vectorops.naming import previous_name

LEFTOVER_SUFFIXES = ("_ccnew", "_ccold")
VECTOR_METHODS = ("hnsw", "ivfflat")  # pg_am of the indexes vectorops builds (halfvec and bit HNSW are hnsw)
IVFFLAT_DEFAULT_LISTS = 100  # pgvector's lists when the index does not set them


@dataclass(frozen=True)
class IndexState:
    """One index of a live table.

    :param building_pid: backend building an index on the table right now (``pg_stat_progress_create_index``).
    :param duplicate_of: for an invalid index, the valid index of the same table it duplicates (same method,
        columns, operator classes and options), if any: what a cancelled ``CREATE INDEX CONCURRENTLY`` leaves.
    :param expression: the indexed expression of an expression index (``embedding::halfvec(d)``,
        ``binary_quantize(embedding)::bit(d)``), ``None`` for a plain column.
    :param owned: this session may alter the index (``ALTER INDEX ... SET``): it is, or is a member of, the owner.
    """

    name: str
    method: str
    valid: bool
    bytes: int
    options: dict[str, str]
    building_pid: int | None = None
    duplicate_of: str | None = None
    expression: str | None = None
    owned: bool = True

    @property
    def leftover(self) -> bool:
        """Named like what an interrupted ``REINDEX CONCURRENTLY`` leaves: ``<name>_ccnew[N]`` / ``_ccold[N]``."""
        stem = self.name.rstrip("0123456789")
        return stem.endswith(LEFTOVER_SUFFIXES)

    @property
    def vector(self) -> bool:
        """A vector index: HNSW (on the vector, its halfvec or its binary quantisation) or IVFFlat."""
        return self.method in VECTOR_METHODS

    @property
    def bits(self) -> bool:
        """An HNSW index over ``binary_quantize(embedding)`` (``hnsw_bit_rerank``): one bit a dimension."""
        return "binary_quantize" in (self.expression or "")

    @property
    def lists(self) -> int | None:
        """An IVFFlat index's lists (its storage option, else pgvector's default); ``None`` for other methods."""
        if self.method != "ivfflat":
            return None
        return int(self.options.get("lists", IVFFLAT_DEFAULT_LISTS))


@dataclass(frozen=True)
class TableState:
    """A live table from ``vectorops.collection_registry`` with its statistics.

    :param changes: rows inserted, updated or deleted since the statistics were reset.
    :param built_rows: rows the vector index was built on (``vectorops.index_health``).
    :param built_changes: ``changes`` when maintenance first looked after the build; ``None`` until it has.
    :param built_dead_rows: dead tuples then, which the index does not hold.
    :param rebuild_reason: a rebuild request from the search monitor, if any.
    :param advised_ef_search: the search monitor's latest advice, a value of ``search_knob`` (``hnsw.ef_search``,
        ``ivfflat.probes`` or ``re-rank depth``), with the recall it measured.
    :param retired: the ``<name>__prev`` table the last promotion replaced; only its invalid indexes matter.
    :param search_knob: the knob ``advised_ef_search`` is a value of (``None``: an advice from before issue 23,
        ``hnsw.ef_search``).
    """

    collection: str
    schema: str
    table: str
    exists: bool
    dimensions: int | None = None
    index_name: str | None = None
    hnsw_m: int | None = None
    live_rows: int = 0
    dead_rows: int = 0
    changes: int = 0
    mod_since_analyze: int = 0
    last_analyzed: datetime | None = None
    table_bytes: int = 0
    index_bytes: int = 0
    built_rows: int | None = None
    built_changes: int | None = None
    built_dead_rows: int | None = None
    rebuild_reason: str | None = None
    advised_ef_search: int | None = None
    advised_recall: float | None = None
    indexes: list[IndexState] = field(default_factory=list)
    retired: bool = False
    search_knob: str | None = None

    @property
    def qualified(self) -> str:
        """``schema.table`` for messages."""
        return f"{self.schema}.{self.table}"

    @property
    def vector_index(self) -> IndexState | None:
        """The table's vector index (HNSW or IVFFlat) as recorded in the registry, if it exists."""
        return next((i for i in self.indexes if i.name == self.index_name), None)


def _options(raw: list[str]) -> dict[str, str]:
    return dict(option.split("=", 1) for option in raw if "=" in option)


def _indexes(cur: psycopg.Cursor[dict[str, Any]], relid: int) -> list[IndexState]:
    indexes = [IndexState(name=i["name"], method=i["method"], valid=i["valid"], bytes=i["bytes"],
                          options=_options(i["options"]), building_pid=i["building_pid"], expression=i["expression"],
                          owned=bool(i["owned"]))
               for i in cur.execute(sql_text("maintenance/select_table_indexes"), {"relid": relid})]
    if all(i.valid for i in indexes):
        return indexes
    twins = {r["name"]: r["twin"] for r in cur.execute(sql_text("maintenance/select_duplicate_indexes"),
                                                          {"relid": relid})}
    return [replace(i, duplicate_of=twins.get(i.name)) for i in indexes]


def _previous(cur: psycopg.Cursor[dict[str, Any]], collection: str, schema: str, table: str) -> TableState | None:
    """The ``__prev`` table of a live table when it has an invalid index (an interrupted build it was promoted
    away with); ``None`` otherwise."""
    name = previous_name(table)
    row = cur.execute("SELECT to_regclass(%s)::oid AS relid",
                      (sql.Identifier(schema, name).as_string(cur.connection),)).fetchone()
    if row is None or row["relid"] is None or not ownership.owns_table(cur.connection, schema, name):
        return None
    indexes = _indexes(cur, row["relid"])
    if all(i.valid for i in indexes):
        return None
    return TableState(collection=collection, schema=schema, table=name, exists=True, indexes=indexes, retired=True)


def live_tables(conn: psycopg.Connection, collections: list[str] | None = None) -> list[TableState]:
    """The state of every live table in the registry (or of ``collections`` only), each followed by its
    ``__prev`` table when that one has an invalid index.

    :raises RequestError: when a named collection is not in the registry.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql_text("maintenance/select_live_tables")).fetchall()
        if collections:
            unknown = sorted(set(collections) - {r["collection"] for r in rows})
            if unknown:
                raise RequestError(f"collection(s) {', '.join(map(repr, unknown))} have not been migrated; "
                                   f"migrated: {', '.join(repr(r['collection']) for r in rows) or 'none'}")
            rows = [r for r in rows if r["collection"] in collections]
        states = []
        for r in rows:
            base = {"collection": r["collection"], "schema": r["table_schema"], "table": r["table_name"]}
            if r["relid"] is None:
                states.append(TableState(exists=False, **base))
            else:
                states.append(TableState(
                    exists=True, dimensions=r["dimensions"], index_name=r["index_name"], hnsw_m=r["hnsw_m"],
                    live_rows=int(r["n_live_tup"] or 0), dead_rows=int(r["n_dead_tup"] or 0),
                    changes=int(r["changes"] or 0), mod_since_analyze=int(r["n_mod_since_analyze"] or 0),
                    last_analyzed=r["last_analyzed"], table_bytes=int(r["table_bytes"] or 0),
                    index_bytes=int(r["index_bytes"] or 0),
                    # tables promoted before index_health existed: the index was built on the loaded rows
                    built_rows=r["built_rows"] if r["built_rows"] is not None else r["loaded_count"],
                    built_changes=r["built_changes"], built_dead_rows=r["built_dead_rows"],
                    rebuild_reason=r["rebuild_reason"], advised_ef_search=r["advised_ef_search"],
                    advised_recall=r["advised_recall"], search_knob=r["search_knob"],
                    indexes=_indexes(cur, r["relid"]), **base))
            previous = _previous(cur, r["collection"], r["table_schema"], r["table_name"])
            if previous is not None:
                states.append(previous)
    return states
