"""The engines of the concurrency phase, each client through the store API services use (the same argument checks
and result shaping on both sides), answering ids and distances.

* :class:`PostgresEngine`: each client its own :class:`~vectorops.store.postgres.PostgresStore` with one pooled
  connection, searching the HNSW index at ``hnsw.ef_search`` = the effort (never exactly, whatever the size).
  Given an index ``kind`` (:mod:`vectorops.load.index_kinds`), each client is instead an :class:`IndexSearcher`:
  one connection, the kind's statement (:func:`~vectorops.load.index_kinds.nearest_ids`) at the kind's knob
  (ef_search, probes or re-rank depth), ids only: what the index costs, without the store's result shaping.
* :class:`ChromaServerEngine`: each client its own ``chromadb.HttpClient`` to a ``chroma run`` server
  (:class:`~vectorops.chroma.server_process.ChromaServerProcess`). chromadb shares one HTTP connection pool among
  the clients of one server in a process; each request in flight takes its own connection. The effort is the
  collection's ``configuration={"hnsw": {"ef_search": ...}}`` (``collection.modify``), which Chroma 1.5 applies
  only when a server process loads the index: a change restarts the server.
* :class:`ChromaLocalEngine`: Chroma's in-process client (``PersistentClient``) on a directory, at the
  ``ef_search`` its collection has (a reference line: one client, no server in between); with ``reload=True``
  at any ``ef_search``: the configuration is changed and the client's system reopened, so the index is loaded
  again with it.

Chroma's engines answer through the store API by default; with ``raw=True`` through chromadb's own collection
(the same ``query`` call, without the store's result shaping), the counterpart of :class:`IndexSearcher`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from psycopg import sql

from vectorops.chroma.server_process import HOST, ChromaServerProcess
from vectorops.compare.dataset import RECALL_K
from vectorops.load import index_kinds
from vectorops.monitor.ef_advice import knob_ladder

__all__ = ["ChromaLocalEngine", "ChromaServerEngine", "IndexSearcher", "PostgresEngine", "StoreSearcher",
           "knob_ladder"]

INCLUDE = ["distances"]


class StoreSearcher:
    """One client: a store and one of its collections."""

    def __init__(self, store: Any, collection: Any) -> None:
        self.store = store
        self.collection = collection

    def search(self, vector: np.ndarray) -> list[str]:
        """The ids of the 10 nearest records."""
        return list(self.collection.query(query_embeddings=vector, n_results=RECALL_K, include=INCLUDE)["ids"][0])

    def close(self) -> None:
        """Close the store (its connections)."""
        self.store.close()


class IndexSearcher:
    """One client of :class:`PostgresEngine` with a ``kind``: its own connection, searching through the index at
    the kind's knob (set once per session), answering ids.

    :param table: the quoted ``schema.table``.
    :param column: the index's column (kind, space, dimensions).
    :param effort: ef_search, probes or the re-rank depth.
    """

    def __init__(self, dsn: str, table: sql.Composable, column: index_kinds.IndexedColumn, effort: int) -> None:
        from pgvector.psycopg import register_vector

        from vectorops.db.connect import connect

        self.conn = connect(dsn, autocommit=True, application_name="vectorops-compare")
        try:
            register_vector(self.conn)
            for name, value in index_kinds.search_settings(column.kind, effort):
                self.conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        except BaseException:
            self.conn.close()
            raise
        query = sql.SQL("{}::vector").format(sql.Placeholder("query"))
        self.statement = index_kinds.nearest_ids(column, table, query, sql.SQL("TRUE"), sql.Placeholder("k"),
                                                 sql.Placeholder("depth"))
        # the candidates a re-ranked kind re-orders, as the store takes them
        self.depth = index_kinds.rerank_depth(column, effort, RECALL_K)

    def search(self, vector: np.ndarray) -> list[str]:
        """The ids of the 10 nearest records (one round trip: execute and fetch)."""
        rows = self.conn.execute(self.statement, {"query": vector, "k": RECALL_K, "depth": self.depth},
                                 binary=True, prepare=True).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class PostgresEngine:
    """pgvector: the collection ``collection`` of ``schema``, searched through its HNSW index; with ``kind``,
    through the index of that kind (:class:`IndexSearcher`) at its knob.

    :param kind: one of :data:`~vectorops.load.index_kinds.KINDS`, the index the table has now; ``None``: the
        store's own search (HNSW at ``hnsw.ef_search``).
    """

    def __init__(self, dsn: str, schema: str, collection: str, service: str, name: str = "pgvector",
                 kind: str | None = None) -> None:
        self.name = name
        self.dsn, self.schema, self.collection, self.service = dsn, schema, collection, service
        self.kind = None if kind is None else index_kinds.check_kind(kind, "kind")
        self.setting = index_kinds.KNOBS[kind or "hnsw"]
        self.effort: int | None = None
        self._column: tuple[sql.Composable, index_kinds.IndexedColumn] | None = None

    def set_effort(self, value: int) -> None:
        """Clients opened from now on search at the knob (``hnsw.ef_search`` without a kind) = ``value``."""
        self.effort = value

    def _table(self) -> tuple[sql.Composable, index_kinds.IndexedColumn]:
        """The collection's table and indexed column, from the registry (read once)."""
        from vectorops.db.connect import connect

        if self._column is None:
            assert self.kind is not None
            with connect(self.dsn, autocommit=True) as conn:
                row = conn.execute("""SELECT table_name, distance, dimensions FROM vectorops.collection_registry
                                      WHERE table_schema = %s AND %s IN (collection_key, collection)
                                      ORDER BY collection_key = %s DESC LIMIT 1""",
                                   (self.schema, self.collection, self.collection)).fetchone()
            if row is None or row[2] is None:
                raise ValueError(f"no collection {self.collection!r} with vectors is registered in {self.schema}")
            self._column = (sql.Identifier(self.schema, row[0]),
                            index_kinds.IndexedColumn(self.kind, row[1], int(row[2])))
        return self._column

    def open(self) -> StoreSearcher | IndexSearcher:
        """Without a kind, a store of one connection (``exact_max_rows=0``: the index answers even on a small
        table); with one, an :class:`IndexSearcher` at the effort (the kind's default when none was set)."""
        if self.kind is not None:
            table, column = self._table()
            effort = self.effort if self.effort is not None else index_kinds.default_effort(
                self.kind, ef_search=100, lists=None)
            return IndexSearcher(self.dsn, table, column, effort)
        from vectorops.store.postgres import PostgresStore

        store = PostgresStore(self.dsn, table_schema=self.schema, service=self.service, exact_max_rows=0,
                              pool_max_size=1)
        try:
            col = store.get_collection(self.collection)
            if self.effort is not None:  # this client's view of the collection; the registry is not changed
                col.info = dataclasses.replace(col.info, ef_search=self.effort)
        except BaseException:
            store.close()
            raise
        return StoreSearcher(store, col)


def http_client(port: int) -> Any:
    """A ``chromadb.HttpClient`` of the server on 127.0.0.1:``port`` (telemetry off)."""
    import chromadb
    from chromadb.config import Settings

    return chromadb.HttpClient(host=HOST, port=port, settings=Settings(anonymized_telemetry=False))


def _ef_search(collection: Any) -> int | None:
    value = ((collection.configuration or {}).get("hnsw") or {}).get("ef_search")
    return int(value) if value is not None else None


class ChromaServerEngine:
    """A Chroma server's collection ``collection``.

    :param server: the running server (restarted when the effort changes).
    """

    setting = "configuration.hnsw.ef_search"

    def __init__(self, server: ChromaServerProcess, collection: str, name: str = "chroma server",
                 raw: bool = False) -> None:
        self.name = name
        self.server, self.collection, self.raw = server, collection, raw
        self.effort: int | None = None

    def set_effort(self, value: int) -> None:
        """Store ``ef_search`` = ``value`` in the collection's configuration and restart the server when it
        changed."""
        col = http_client(self.server.port).get_collection(self.collection)
        if self.effort is None:
            self.effort = _ef_search(col)
        if value != self.effort:
            col.modify(configuration={"hnsw": {"ef_search": value}})
            self.server.restart()
            self.effort = value

    def open(self) -> StoreSearcher:
        """An HTTP client of its own."""
        from vectorops.store.chroma import ChromaStore

        store = ChromaStore(client=http_client(self.server.port))
        return StoreSearcher(store, _collection(store, self.collection, self.raw))


def _collection(store: Any, name: str, raw: bool) -> Any:
    """The store's collection ``name``, or with ``raw`` chromadb's own (the same ``query`` call, no shaping)."""
    return store.client.get_collection(name, embedding_function=None) if raw else store.get_collection(name)


class ChromaLocalEngine:
    """Chroma's in-process client on ``path`` (no server may serve ``path`` meanwhile).

    :param reload: let :meth:`set_effort` change the collection's ``ef_search`` (written to ``path``: a private
        copy) and reopen the client's system, so that the index is loaded again with it.
    :param raw: clients query chromadb's own collection instead of the store's.
    """

    setting = "configuration.hnsw.ef_search"

    def __init__(self, path: Path, collection: str, name: str = "chroma in-process", reload: bool = False,
                 raw: bool = False) -> None:
        self.name = name
        self.path, self.collection, self.reload, self.raw = path, collection, reload, raw
        self._store: Any = None

    def _shared(self) -> Any:
        from vectorops.store.chroma import ChromaStore

        if self._store is None:  # one Chroma system per directory and process: every client shares it
            self._store = ChromaStore(self.path)
        return self._store

    def effort(self) -> int | None:
        """The ``ef_search`` the collection is configured with."""
        return _ef_search(self._shared().client.get_collection(self.collection))

    def set_effort(self, value: int) -> None:
        """Search at ``ef_search`` = ``value``: without ``reload`` only the configured one can be measured.

        :raises ValueError: without ``reload``, for any other value (the loaded index keeps its ef_search).
        """
        current = self.effort()
        if value == current:
            return
        if not self.reload:
            raise ValueError(f"{self.name} searches at the configured ef_search {current}, not {value}")
        from chromadb.api.client import SharedSystemClient

        self._shared().client.get_collection(self.collection).modify(configuration={"hnsw": {"ef_search": value}})
        SharedSystemClient.clear_system_cache()  # stops this process's Chroma systems: the index is loaded again
        self._store = None

    def open(self) -> StoreSearcher:
        """A client on the shared in-process system."""
        store = self._shared()
        return StoreSearcher(store, _collection(store, self.collection, self.raw))
