"""Test helpers: real Chroma stores, and a type-exact SHA-256 over records on either side."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import uuid
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
    """Every record of a Chroma collection: (id, embedding, document, metadata, uri), read by id in pages.

    One unpaged ``get()`` of every field fails above about 32,000 records (SQLite's variable limit), so the ids are
    listed first and their records fetched 5,000 at a time.
    """
    collection = chroma_client(path).get_collection(name)
    ids = collection.get(include=[])["ids"]
    for start in range(0, len(ids), 5_000):
        got = collection.get(ids=ids[start:start + 5_000], include=["embeddings", "documents", "metadatas", "uris"])
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


def ephemeral_chroma() -> Any:
    """Chroma itself, in memory, with this suite's settings. Chroma keeps one system per process for its in-memory
    clients and refuses a second one with other settings, which a module that ran earlier on the same pytest worker
    may have made (Chroma's own suites do): that one is stopped first."""
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings

    SharedSystemClient.clear_system_cache()
    return chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))


def registry_row(dsn: str, collection: str, schema: str | None = None) -> dict[str, Any]:
    """The collection's row of ``vectorops.collection_registry``: the only one of that name, or the one in ``schema``
    (another test module may have migrated a collection of the same name into its own schema)."""
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute("""SELECT * FROM vectorops.collection_registry
                              WHERE collection = %s AND (%s::text IS NULL OR table_schema = %s)""",
                           (collection, schema, schema)).fetchall()
    assert rows, f"no registry row for {collection!r}" + (f" in schema {schema!r}" if schema else "")
    assert len(rows) == 1, f"{len(rows)} registry rows for {collection!r}: pass the schema"
    return rows[0]


def migrate_in_process(settings: Any, params: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """Run the migration steps in order, as the DAG wires them, without Airflow (fast for fidelity tests)."""
    from vectorops.migration import request as migration_request
    from vectorops.migration import steps

    request = migration_request.request_from_params(params, settings)
    summaries = []
    for name in migration_request.select_collections(request):
        plan = steps.prepare(settings, request, name, run_id)
        for chunk_no in plan.chunks:
            steps.load(settings, plan, chunk_no)
        summaries.append(steps.finalize(settings, plan))
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
        # rows keyed by the collection's key: its name, or name@<8 hex> when another store's collection had it
        for table in ("collection_registry", "collection_claims", "migration_runs", "quarantine",
                      "validation_results", "search_metrics"):
            conn.execute(sql.SQL("DELETE FROM {} WHERE collection = %s OR collection LIKE %s").format(
                sql.Identifier("vectorops", table)), (collection, f"{collection}@________"))


@contextlib.contextmanager
def only_these_in_the_registry(dsn: str, keep: Iterable[str]) -> Iterator[None]:
    """The registry's rows of every collection key but ``keep`` set aside for the block, then put back as they were.

    A scheduled DAG run without Params works on every registered collection: in a full run of the suite, that is
    whatever the modules before it left in the shared database (a minute of validating in the data-quality DAG).
    Inside the block the run takes the same path and meets only the test's own collections.
    """
    kept = sql.Literal(list(keep))
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            query = sql.SQL("COPY (SELECT * FROM vectorops.collection_registry WHERE NOT (collection_key = ANY({})))"
                            " TO STDOUT (FORMAT binary)").format(kept)
            with conn.cursor().copy(query) as cp:
                saved = b"".join(bytes(block) for block in cp)
            conn.execute(sql.SQL("DELETE FROM vectorops.collection_registry WHERE NOT (collection_key = ANY({}))")
                         .format(kept))
    try:
        yield
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            with conn.cursor().copy("COPY vectorops.collection_registry FROM STDIN (FORMAT binary)") as cp:
                cp.write(saved)


PLATFORM_TABLES = ("collection_registry", "collection_claims", "migration_runs", "migration_chunks",
                   "migration_source_ids", "quarantine", "validation_results")


def platform_snapshot(dsn: str) -> dict[str, Any]:
    """The schemas of the database and the row count of each platform table: equal before and after a run that
    must write nothing."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        schemas = sorted(r[0] for r in conn.execute(
            r"SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_temp\_%' "
            r"AND nspname NOT LIKE 'pg\_toast\_temp\_%'"))
        counts = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("vectorops", t))
                                  ).fetchone()[0] for t in PLATFORM_TABLES}
    return {"schemas": schemas, "rows": counts}


#: Collection names at the edges of what Chroma accepts and of what PostgreSQL and our suffixes make of them
EDGE_COLLECTION_NAMES = (
    "select", "SELECT", "Select", "table", "user", "order", "group", "from", "null", "default", "public", "vectors",
    "vectorops", "pg_catalog", "information_schema", "docs", "docs_pkey", "docs_hnsw", "docs__prev",
    "docs__shadow_0123abcd", "abc_deadbeef", "a-b", "a_b", "A_B", "a.b", "a.-b", "1.2.3", "123", "0x1F",
    "My-Collection.v2", "my-collection.v2", "a" * 512, "A" * 512, "z" * 511 + "9", "9" * 512,
)


_CHROMA_NAME = r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]"


def chroma_legal(name: str) -> bool:
    """Whether chromadb 1.5.9 accepts ``name`` for a collection (``tests/faults`` checks it by creating them):
    3 to 512 characters from ``[a-zA-Z0-9._-]``, first and last a letter or digit, no ``..``, not an IPv4 address.
    """
    import ipaddress
    import re

    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return bool(re.fullmatch(_CHROMA_NAME, name)) and ".." not in name
    return False


def chroma_names() -> Any:
    """A hypothesis strategy of Chroma-legal collection names, random and :data:`EDGE_COLLECTION_NAMES`."""
    from hypothesis import strategies as st

    random = st.from_regex(rf"\A{_CHROMA_NAME}\Z", fullmatch=True).filter(chroma_legal)
    return st.one_of(random, st.sampled_from(EDGE_COLLECTION_NAMES))


def colliding_chroma_names(max_size: int = 30) -> Any:
    """Lists of distinct Chroma-legal names, each with variants that fold alike: other case, ``-``/``.``/``_``
    swapped, and an index suffix appended."""
    from hypothesis import strategies as st

    def variants(names: list[str]) -> Any:
        pool = {v for n in names for v in (n, n.lower(), n.upper(), n.swapcase(), n.replace("-", "_"),
                                           n.replace("_", "-"), n.replace(".", "-"), f"{n[:500]}_pkey")}
        legal = sorted(filter(chroma_legal, pool))
        return st.lists(st.sampled_from(legal), min_size=min(2, len(legal)), max_size=max_size, unique=True)

    return st.lists(chroma_names(), min_size=1, max_size=6).flatmap(variants)


def forget_schema(dsn: str, schema: str) -> None:
    """Drop ``schema`` and the rows the platform keeps about its tables (index health, maintenance log)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        for table in ("index_health", "maintenance_log"):
            conn.execute(sql.SQL("DELETE FROM {} WHERE table_schema = %s").format(
                sql.Identifier("vectorops", table)), (schema,))


@contextlib.contextmanager
def fresh_database(dsn: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server of ``dsn``, named ``<prefix>_<8 hex>`` and dropped afterwards; its DSN."""
    from vectorops.backup.pg_tools import dsn_for_database

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield dsn_for_database(dsn, name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
