"""``dual`` mode, for a safe cut-over: pgvector answers, Chroma is kept in step and checked on a sample.

- Writes go to pgvector, then to Chroma (a Chroma failure is logged and counted, never raised: pgvector is the
  record of truth, and the service keeps running).
- ``get`` / ``count`` come from pgvector. ``query`` is answered by pgvector; a sampled share of queries
  (``<SERVICE>_DUAL_SAMPLE_RATE``) is sent to Chroma as well, in a background thread that never delays the answer,
  and each whose top-k ids differ as a set (or that fails on Chroma) becomes a row of
  ``vectorops.store_disagreements`` with both id lists and their overlap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from vectorops.db.sql_files import sql_text
from vectorops.store.base import Collection, VectorStore
from vectorops.store.chroma import ChromaCollection, ChromaStore
from vectorops.store.errors import CollectionNotFound
from vectorops.store.inputs import RecordBatch
from vectorops.store.postgres import PostgresStore
from vectorops.store.postgres_collection import PostgresCollection
from vectorops.store.results import Row

log = logging.getLogger(__name__)
MAX_PENDING = 16


class DualCollection(Collection):
    """One collection on both backends; see the module docs."""

    backend = "dual"

    def __init__(self, store: DualStore, primary: PostgresCollection, shadow: ChromaCollection | None) -> None:
        super().__init__(primary.name, primary.space, primary.metadata)
        self._store = store
        self.primary = primary
        self.shadow = shadow

    def _mirror(self, what: str, action: Any) -> None:
        if self.shadow is None:
            return
        try:
            action(self.shadow)
        except Exception as exc:  # Chroma must never fail the service in dual mode
            self._store.stats["shadow_write_errors"] += 1
            log.warning("dual mode: %s on Chroma collection %r failed: %s", what, self.name, exc)

    def _write(self, mode: str, batch: RecordBatch) -> None:
        self.primary._write(mode, batch)
        self._mirror(mode, lambda c: c._write(mode, batch))

    def _get(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None,
             offset: int | None, include: list[str]) -> list[Row]:
        return self.primary._get(ids, where, where_document, limit, offset, include)

    def _query(self, vectors: np.ndarray, n_results: int, where: Any, where_document: Any,
               ids: list[str] | None, include: list[str]) -> list[list[Row]]:
        started = time.perf_counter()
        rows = self.primary._query(vectors, n_results, where, where_document, ids, include)
        postgres_ms = (time.perf_counter() - started) * 1000 / max(1, len(vectors))
        if self.shadow is not None:
            self._store.compare_later(self, vectors.copy(), n_results, where, where_document, ids,
                                      [[r.id for r in per] for per in rows], postgres_ms)
        return rows

    def _delete(self, ids: list[str] | None, where: Any, where_document: Any, limit: int | None = None) -> int:
        if limit is not None:  # the backends pick in different orders: Chroma deletes the ids pgvector deleted
            gone = self.primary.delete_returning(ids, where, where_document, limit)
            if gone:
                self._mirror("delete", lambda c: c._delete(gone, None, None))
            return len(gone)
        deleted = self.primary._delete(ids, where, where_document)
        self._mirror("delete", lambda c: c._delete(ids, where, where_document))
        return deleted

    def _missing_ids(self, ids: list[str]) -> list[str]:
        return self.primary._missing_ids(ids)

    def _count(self) -> int:
        return self.primary._count()


class DualStore(VectorStore):
    """pgvector serving, Chroma shadowing.

    :param sample_rate: share of queries also sent to Chroma, 0 to 1.
    :param seed: seed of the sampling (for tests), else random.
    """

    backend = "dual"

    def __init__(self, primary: PostgresStore, shadow: ChromaStore, service: str, sample_rate: float,
                 seed: int | None = None) -> None:
        self.primary = primary
        self.shadow = shadow
        self.service = service
        self.sample_rate = sample_rate
        self.stats: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._pending = threading.BoundedSemaphore(MAX_PENDING)
        self._futures: set[Future[None]] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"vectorops-dual-{service}")

    def _pair(self, primary: PostgresCollection, shadow: Any) -> DualCollection:
        return DualCollection(self, primary, shadow)

    def get_or_create_collection(self, name: str, metadata: Any = None, configuration: Any = None) -> DualCollection:
        primary = self.primary.get_or_create_collection(name, metadata, configuration)
        return self._pair(primary, self.shadow.get_or_create_collection(name, metadata, configuration))

    def get_collection(self, name: str) -> DualCollection:
        primary = self.primary.get_collection(name)
        try:
            shadow = self.shadow.get_collection(name)
        except CollectionNotFound:
            log.warning("dual mode: collection %r is not in Chroma; queries are not compared", name)
            shadow = None
        return self._pair(primary, shadow)

    def delete_collection(self, name: str) -> None:
        self.primary.delete_collection(name)
        try:
            self.shadow.delete_collection(name)
        except CollectionNotFound:
            pass

    def list_collections(self) -> list[str]:
        return self.primary.list_collections()

    def compare_later(self, collection: DualCollection, vectors: np.ndarray, n_results: int, where: Any,
                      where_document: Any, ids: list[str] | None, postgres_ids: list[list[str]],
                      postgres_ms: float) -> None:
        """Queue the Chroma side of a query when the sample picks it and the queue has room."""
        with self._lock:
            picked = self._random.random() < self.sample_rate
        if not picked:
            return
        if not self._pending.acquire(blocking=False):
            self.stats["skipped_busy"] += 1
            return
        future = self._executor.submit(self._compare, collection, vectors, n_results, where, where_document, ids,
                                       postgres_ids, postgres_ms)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        self._pending.release()
        with self._lock:
            self._futures.discard(future)

    def _compare(self, collection: DualCollection, vectors: np.ndarray, n_results: int, where: Any,
                 where_document: Any, ids: list[str] | None, postgres_ids: list[list[str]],
                 postgres_ms: float) -> None:
        started = time.perf_counter()
        error = None
        try:
            chroma_rows = collection.shadow._query(vectors, n_results, where, where_document, ids, [])  # type: ignore[union-attr]
            chroma_ids: list[list[str] | None] = [[r.id for r in per] for per in chroma_rows]
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            chroma_ids = [None] * len(vectors)
        chroma_ms = (time.perf_counter() - started) * 1000 / max(1, len(vectors))
        rows = []
        for vector, pg, ch in zip(vectors, postgres_ids, chroma_ids, strict=True):
            self.stats["compared"] += 1
            if ch is not None and set(pg) == set(ch):
                self.stats["agreed"] += 1
                continue
            self.stats["errors" if ch is None else "disagreed"] += 1
            overlap = None if ch is None else len(set(pg) & set(ch)) / max(1, len(pg), len(ch))
            rows.append({
                "service": self.service, "collection": collection.name, "n_results": n_results,
                "where_filter": json.dumps(where) if where is not None else None,
                "where_document": json.dumps(where_document) if where_document is not None else None,
                "query_sha256": hashlib.sha256(np.asarray(vector, dtype=np.float32).tobytes()).hexdigest(),
                "postgres_ids": pg, "chroma_ids": ch, "overlap": overlap, "postgres_ms": postgres_ms,
                "chroma_ms": chroma_ms, "error": error})
        if rows:
            try:
                with self.primary.pool.connection() as conn, conn.cursor() as cur:
                    cur.executemany(sql_text("store/insert_disagreement"), rows)
            except Exception as exc:
                self.stats["record_errors"] += 1
                log.warning("dual mode: recording %d disagreement(s) failed: %s", len(rows), exc)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued comparison is recorded; ``False`` when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._futures)
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                pending[0].result(timeout=remaining)
            except Exception:
                continue

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.primary.close()
        self.shadow.close()
