"""Test helpers: real Chroma stores, and a type-exact SHA-256 over records on either side."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql


def chroma_client(path: Path) -> Any:
    """A PersistentClient on ``path`` with telemetry off."""
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def add_records(collection: Any, ids: list[str], embeddings: np.ndarray, documents: list[str | None] | None = None,
                metadatas: list[dict[str, Any] | None] | None = None, uris: list[str | None] | None = None,
                batch: int = 5000) -> None:
    """Add records in batches; ``None`` metadata entries are added without metadata."""
    for start in range(0, len(ids), batch):
        stop = min(len(ids), start + batch)
        part_meta = metadatas[start:stop] if metadatas else None
        if part_meta and any(m is None for m in part_meta):
            for i in range(start, stop):
                collection.add(ids=[ids[i]], embeddings=embeddings[i:i + 1],
                               documents=[documents[i]] if documents else None,
                               metadatas=[metadatas[i]] if metadatas and metadatas[i] is not None else None,
                               uris=[uris[i]] if uris else None)
            continue
        collection.add(ids=ids[start:stop], embeddings=embeddings[start:stop],
                       documents=documents[start:stop] if documents else None, metadatas=part_meta,
                       uris=uris[start:stop] if uris else None)


def typed(value: Any) -> str:
    """A canonical text of a metadata value that tells 1, 1.0 and True apart."""
    if value is None:
        return "n"
    if isinstance(value, bool):
        return f"b:{value}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, float):
        return f"f:{value!r}" if math.isfinite(value) else f"f:{value}"
    if isinstance(value, str):
        return "s:" + json.dumps(value)
    if isinstance(value, list):
        return "l[" + ",".join(typed(v) for v in value) + "]"
    if isinstance(value, dict):
        return "d{" + ",".join(f"{json.dumps(k)}:{typed(value[k])}" for k in sorted(value)) + "}"
    raise TypeError(type(value))


def record_line(record_id: str, embedding: Any, document: str | None, metadata: Any, uri: str | None) -> bytes:
    """The bytes one record contributes to a digest: id, float32 bytes, document, typed metadata, uri."""
    if hasattr(embedding, "to_numpy"):
        embedding = embedding.to_numpy()
    vec = np.asarray(embedding, dtype=np.float32).tobytes().hex()
    parts = [json.dumps(record_id), vec, json.dumps(document), typed(metadata), json.dumps(uri)]
    return ("\t".join(parts) + "\n").encode("utf-8", "surrogatepass")


def digest(lines: Iterable[tuple[str, bytes]]) -> tuple[str, int]:
    """SHA-256 over records sorted by id, and their count."""
    items = sorted(lines, key=lambda item: item[0].encode("utf-8", "surrogatepass"))
    h = hashlib.sha256()
    for _, line in items:
        h.update(line)
    return h.hexdigest(), len(items)


def chroma_records(path: Path, name: str) -> Iterator[tuple[str, Any, Any, Any, Any]]:
    """Every record of a Chroma collection: (id, embedding, document, metadata, uri)."""
    collection = chroma_client(path).get_collection(name)
    got = collection.get(include=["embeddings", "documents", "metadatas", "uris"])
    for i, record_id in enumerate(got["ids"]):
        yield (record_id, got["embeddings"][i], got["documents"][i], got["metadatas"][i], got["uris"][i])


def chroma_digest(path: Path, name: str, exclude: set[str] = frozenset()) -> tuple[str, int]:  # type: ignore[assignment]
    """Digest of a Chroma collection, leaving out ``exclude`` ids (the quarantined ones)."""
    return digest((r[0], record_line(*r)) for r in chroma_records(path, name) if r[0] not in exclude)


def pg_digest(dsn: str, schema: str, table: str) -> tuple[str, int]:
    """Digest of a vector table, read back through psycopg + pgvector."""
    from pgvector.psycopg import register_vector

    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        rows = conn.execute(sql.SQL("SELECT id, embedding, document, metadata, uri FROM {}").format(
            sql.Identifier(schema, table))).fetchall()
    return digest((r[0], record_line(r[0], r[1], r[2], r[3], r[4])) for r in rows)


def registry_row(dsn: str, collection: str) -> dict[str, Any]:
    """The collection's row of ``vectorops.collection_registry``."""
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute("SELECT * FROM vectorops.collection_registry WHERE collection = %s", (collection,)).fetchone()
    assert row is not None, f"no registry row for {collection!r}"
    return row


def migrate_in_process(settings: Any, params: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """Run the migration steps in order, as the DAG wires them, without Airflow (fast for fidelity tests)."""
    from vectorops import migration, migration_request

    request = migration_request.request_from_params(params, settings)
    summaries = []
    for name in migration_request.select_collections(request):
        plan = migration.prepare(settings, request, name, run_id)
        for chunk_no in plan["chunks"]:
            migration.load(settings, plan, chunk_no)
        summaries.append(migration.finalize(settings, plan))
    return summaries


def migrate_command(store: Path, schema: str, batch_size: int = 100) -> list[str]:
    """The ``vectorops migrate`` command line for every collection of ``store`` into ``schema``."""
    import sys

    return [sys.executable, "-m", "vectorops.cli", "migrate", "--chroma-path", str(store), "--schema", schema,
            "--batch-size", str(batch_size)]


def done_chunks(dsn: str, collection: str, schema: str) -> int:
    """How many chunks of the collection's unfinished attempt the ledger marks done."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("""SELECT count(*) FROM vectorops.migration_chunks c
                              JOIN vectorops.migration_runs r USING (attempt_id)
                              WHERE r.collection = %s AND r.target_schema = %s
                                AND r.status IN ('loading', 'failed') AND c.status = 'done'""",
                           (collection, schema)).fetchone()
    return int(row[0]) if row else 0


def forget_collection(dsn: str, collection: str, schema: str) -> None:
    """Drop ``schema`` and every platform row of ``collection``: a test that leaves nothing for later tests."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        for table in ("collection_registry", "collection_claims", "migration_runs", "quarantine",
                      "validation_results", "search_metrics"):
            conn.execute(sql.SQL("DELETE FROM {} WHERE collection = %s").format(
                sql.Identifier("vectorops", table)), (collection,))
