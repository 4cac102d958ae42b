"""The engines of the concurrency phase, each client through the store API services use (the same argument checks
and result shaping on both sides), answering ids and distances.

* :class:`PostgresEngine`: each client its own :class:`~vectorops.store.postgres.PostgresStore` with one pooled
  connection, searching the HNSW index at ``hnsw.ef_search`` = the effort (never exactly, whatever the size).
* :class:`ChromaServerEngine`: each client its own ``chromadb.HttpClient`` to a ``chroma run`` server
  (:class:`~vectorops.chroma.server_process.ChromaServerProcess`). chromadb shares one HTTP connection pool among
  the clients of one server in a process; each request in flight takes its own connection. The effort is the
  collection's ``configuration={"hnsw": {"ef_search": ...}}`` (``collection.modify``), which Chroma 1.5 applies
  only when a server process loads the index: a change restarts the server.
* :class:`ChromaLocalEngine`: Chroma's in-process client (``PersistentClient``) on a directory, at the
  ``ef_search`` its collection has (a reference line: one client, no server in between).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from vectorops.chroma.server_process import HOST, ChromaServerProcess
from vectorops.compare.dataset import RECALL_K

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


class PostgresEngine:
    """pgvector: the collection ``collection`` of ``schema``, searched through its HNSW index."""

    setting = "hnsw.ef_search"

    def __init__(self, dsn: str, schema: str, collection: str, service: str, name: str = "pgvector") -> None:
        self.name = name
        self.dsn, self.schema, self.collection, self.service = dsn, schema, collection, service
        self.effort: int | None = None

    def set_effort(self, value: int) -> None:
        """Clients opened from now on search at ``hnsw.ef_search`` = ``value``."""
        self.effort = value

    def open(self) -> StoreSearcher:
        """A store of one connection; ``exact_max_rows=0``: the index answers even on a small table."""
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

    def __init__(self, server: ChromaServerProcess, collection: str, name: str = "chroma server") -> None:
        self.name = name
        self.server, self.collection = server, collection
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
        return StoreSearcher(store, store.get_collection(self.collection))


class ChromaLocalEngine:
    """Chroma's in-process client on ``path`` (no server may serve ``path`` meanwhile)."""

    setting = "configuration.hnsw.ef_search"

    def __init__(self, path: Path, collection: str, name: str = "chroma in-process") -> None:
        self.name = name
        self.path, self.collection = path, collection
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
        """Only the effort the collection is configured with can be measured in-process.

        :raises ValueError: for any other value (the loaded index keeps its ef_search).
        """
        if value != self.effort():
            raise ValueError(f"{self.name} searches at the configured ef_search {self.effort()}, not {value}")

    def open(self) -> StoreSearcher:
        """A client on the shared in-process system."""
        store = self._shared()
        return StoreSearcher(store, store.get_collection(self.collection))
