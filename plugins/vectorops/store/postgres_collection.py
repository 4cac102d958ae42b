"""One collection's records in a pgvector table: writes, reads, deletes and nearest-neighbour search.

Search is exact on small tables (at most the store's ``exact_max_rows`` rows: the answer is then the true top-k, as
Chroma's brute force over its unflushed log) and through the table's index otherwise, with pgvector 0.8's iterative
scan, so that filtered queries still fill their ``n_results``. The index's knob (:mod:`vectorops.load.index_kinds`):
``hnsw.ef_search`` = the collection's own, at least ``n_results``; ``ivfflat.probes`` and the re-rank depth of a
binary-quantised HNSW = the search monitor's advice for the table, else √lists and 200. Halfvec and bit indexes'
candidates are re-ordered by the full-precision distance, so every distance returned is exact. When the index
returns fewer rows than asked, the query is answered again exactly.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np
import psycopg
from psycopg import sql

from vectorops.db.rows import one_value
from vectorops.db.sql_files import statement as db_statement
from vectorops.load import index_kinds
from vectorops.metadata_json import metadata_json
from vectorops.store import pg_catalog
from vectorops.store.base import Collection
from vectorops.store.inputs import RecordBatch, check_dimensions
from vectorops.store.pg_catalog import TableInfo
from vectorops.store.results import Row
from vectorops.store.where_sql import compile_filter

PAYLOAD = ("embedding", "document", "metadata", "uri")
FIELD_COLUMNS = {"embeddings": "embedding", "documents": "document", "metadatas": "metadata", "uris": "uri"}
SIZE_CHECK_SECONDS = 10.0


class SessionSource(Protocol):
    """What a collection needs of its store (:class:`~vectorops.store.postgres.PostgresStore`)."""

    exact_max_rows: int
    regex_collation: str | None

    def session(self, collection: str) -> AbstractContextManager[psycopg.Connection]:
        """A pooled connection for work on ``collection``, PostgreSQL's errors mapped to the store's."""
        ...

    def search_settings(self, conn: psycopg.Connection, settings: tuple[tuple[str, str], ...]) -> None:
        """Set an index's search settings on a pooled connection."""
        ...


def chroma_distance(space: str, value: float) -> float:
    """pgvector's operator value as Chroma's distance: squared L2, ``1 - cos``, ``1 - dot``."""
    if space == "l2":
        return value * value
    if space == "ip":
        return 1.0 + value  # <#> is the negative inner product
    return value


class PostgresCollection(Collection):
    """A collection whose records live in a pgvector table (migrated or created by the store)."""

    backend = "postgres"

    def __init__(self, store: SessionSource, info: TableInfo) -> None:
        super().__init__(info.collection, info.space, info.metadata)
        self._store = store
        self.info = info
        self._small: tuple[float, bool] = (0.0, False)

    @property
    def dimensions(self) -> int | None:
        """Length of the vectors (``None`` until a store-created collection's first write)."""
        return self.info.dimensions

    def _columns(self, include: list[str]) -> sql.Composable:
        wanted = {FIELD_COLUMNS[f] for f in include if f in FIELD_COLUMNS}
        if "metadata" in wanted:
            wanted.add("uri")  # Chroma keeps a uri among the metadata: a record with one has metadata {}, not None
        return sql.SQL(", ").join(sql.Identifier(c) if c in wanted else sql.SQL("NULL AS {}").format(sql.Identifier(c))
                                  for c in PAYLOAD)

    def _filter(self, ids: list[str] | None, where: Any, where_document: Any) -> tuple[sql.Composable, dict]:
        return compile_filter(where, where_document, ids, self._store.regex_collation)

    @staticmethod
    def _row(record: tuple[Any, ...], distance: float | None = None) -> Row:
        record_id, embedding, document, metadata, uri = record
        vector = None if embedding is None else (embedding.to_numpy() if hasattr(embedding, "to_numpy")
                                                 else np.asarray(embedding))
        if not metadata:
            metadata = None if uri is None else {}
        return Row(record_id, vector, document, metadata, uri, distance)

    def _write(self, mode: str, batch: RecordBatch) -> None:
        if batch.embeddings is not None:
            if self.info.dimensions is None:
                with self._store.session(self.name) as conn:
                    self.info = pg_catalog.fix_dimensions(conn, self.info, batch.embeddings.shape[1])
            check_dimensions(batch.embeddings, self.info.dimensions)
        rows = []
        for i, record_id in enumerate(batch.ids):
            meta = batch.metadatas[i] if batch.metadatas is not None else None
            rows.append({
                "id": record_id,
                "embedding": None if batch.embeddings is None else batch.embeddings[i],
                "document": batch.documents[i] if batch.documents is not None else None,
                "metadata": None if meta is None else metadata_json(meta),
                "uri": batch.uris[i] if batch.uris is not None else None,
            })
        statement = db_statement(f"store/{'insert' if mode == 'add' else mode}_records",
                                 table=self.info.identifier)
        with self._store.session(self.name) as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(statement, rows)
        self._small = (0.0, False)

    def _get(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None,
             offset: int | None, include: list[str]) -> list[Row]:
        condition, params = self._filter(ids, where, where_document)
        statement = db_statement("store/select_records", table=self.info.identifier, filter=condition,
                                 columns=self._columns(include))
        with self._store.session(self.name) as conn:
            records = conn.execute(statement, {**params, "limit": limit, "offset": offset or 0},
                                   binary=True).fetchall()  # binary vectors: several times faster to read
        return [self._row(r) for r in records]

    def _is_small(self, conn: psycopg.Connection) -> bool:
        expires, small = self._small
        now = time.monotonic()
        if now >= expires:
            cap = self._store.exact_max_rows + 1
            count = one_value(conn.execute(db_statement("store/count_records_up_to", table=self.info.identifier),
                                           {"cap": cap}))
            small = count < cap
            self._small = (now + SIZE_CHECK_SECONDS, small)
        return small

    def _nearest(self, conn: psycopg.Connection, vector: np.ndarray, k: int, condition: sql.Composable,
                 params: dict[str, Any], columns: sql.Composable, exact: bool) -> list[tuple[Any, ...]]:
        query = sql.SQL("%(query)s::vector")
        distance = index_kinds.distance(self.space, query)
        values = {**params, "query": vector, "k": k}
        if exact:
            statement = db_statement("store/query_nearest", table=self.info.identifier, filter=condition,
                                     columns=columns, distance=distance, tiebreak=sql.SQL(", id"))
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")
                conn.execute("SET LOCAL enable_bitmapscan = off")
                return conn.execute(statement, values, binary=True).fetchall()
        kind = self.info.index_method or "hnsw"
        assert self.info.dimensions is not None  # a table with an index has its dimensions
        column = index_kinds.IndexedColumn(kind, self.space, self.info.dimensions)
        effort = self.info.search_effort(k)
        self._store.search_settings(conn, index_kinds.search_settings(kind, effort))
        if column.reranked:
            statement = db_statement("store/query_nearest_reranked", table=self.info.identifier, filter=condition,
                                     columns=columns, distance=distance, order=column.order(query))
            values["depth"] = index_kinds.rerank_depth(column, effort, k)
        else:
            statement = db_statement("store/query_nearest", table=self.info.identifier, filter=condition,
                                     columns=columns, distance=column.order(query), tiebreak=sql.SQL(""))
        return conn.execute(statement, values, binary=True).fetchall()

    def _query(self, vectors: np.ndarray, n_results: int, where: Any, where_document: Any,
               ids: list[str] | None, include: list[str]) -> list[list[Row]]:
        condition, params = self._filter(ids, where, where_document)
        columns = self._columns(include)
        out = []
        with self._store.session(self.name) as conn:
            if self.info.dimensions is None:  # another session may have written the first records since
                self.info = pg_catalog.require_table(conn, self.info.key, self.info.schema)
                if self.info.dimensions is None:
                    return [[] for _ in range(len(vectors))]
            check_dimensions(vectors, self.info.dimensions)
            exact = self.info.index_method is None or self._is_small(conn)
            for vector in vectors:
                rows = self._nearest(conn, vector, n_results, condition, params, columns, exact)
                if not exact and len(rows) < n_results:  # the index ran out: answer exactly
                    rows = self._nearest(conn, vector, n_results, condition, params, columns, True)
                out.append([self._row((r[0], *r[2:]), chroma_distance(self.space, float(r[1]))) for r in rows])
        return out

    def _delete(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None = None) -> int:
        if limit is not None:
            return len(self.delete_returning(ids, where, where_document, limit))
        condition, params = self._filter(ids, where, where_document)
        with self._store.session(self.name) as conn:
            deleted = conn.execute(db_statement("store/delete_records", table=self.info.identifier,
                                                filter=condition), params).rowcount
        self._small = (0.0, False)
        return deleted

    def delete_returning(self, ids: list[str] | None, where: Any, where_document: Any, limit: int) -> list[str]:
        """Delete the first ``limit`` matching records in id order, in one statement; return their ids (the
        ``dual`` backend deletes the same ones from Chroma)."""
        condition, params = self._filter(ids, where, where_document)
        with self._store.session(self.name) as conn:
            deleted = [r[0] for r in conn.execute(
                db_statement("store/delete_records_limited", table=self.info.identifier, filter=condition),
                {**params, "limit": limit}).fetchall()]
        self._small = (0.0, False)
        return deleted

    def _missing_ids(self, ids: list[str]) -> list[str]:
        if self.info.dimensions is None:  # never written: Chroma, too, finds nothing to refuse
            return []
        with self._store.session(self.name) as conn:
            held = {r[0] for r in conn.execute(db_statement("store/select_held_ids", table=self.info.identifier),
                                               {"ids": ids}).fetchall()}
        return [i for i in ids if i not in held]

    def _count(self) -> int:
        with self._store.session(self.name) as conn:
            return int(one_value(conn.execute(db_statement("store/count_records", table=self.info.identifier))))
