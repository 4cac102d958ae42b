"""The minimal hand pipeline a migration is measured against (issue 23), run as its own process.

``python bench/minimal_pipeline.py --path STORE_COPY --dsn DSN --schema S`` does what a competent engineer writes
in an afternoon, and nothing more:

1. ``chromadb.PersistentClient(path)`` and ``get_collection``; then ``collection.get(limit=P, offset=o,
   include=[embeddings, documents, metadatas])`` page by page until a short page (no ``count()``, which would load
   the collection's HNSW index into the process);
2. one binary ``COPY`` into ``(id text PRIMARY KEY, embedding vector(d), document text, metadata jsonb)``, fed
   page by page as pgvector-python documents it (``register_vector``, ``set_types``, ``write_row``);
3. ``CREATE INDEX ... USING hnsw`` with the source's own ``m`` and ``ef_construction`` (Chroma's defaults, 16 and
   100), ``maintenance_work_mem`` as large as vectorops gives its own build, as pgvector's README advises (so
   that both builds keep the graph in memory), and the server's other settings as they are.

No validation, no quarantine, no resumable chunks, no ownership, no promotion. It must be given a private copy
of the store: Chroma's client writes into the directory it opens. Prints one JSON line: the wall time of each
step and of the whole process as seen from inside (the parent times the process itself too).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

STARTED = time.perf_counter()


def main() -> int:
    """Run the pipeline once and print its timing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True, help="a private copy of the Chroma store")
    parser.add_argument("--collection", default="bench_vectors")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--table", default="minimal")
    parser.add_argument("--page", type=int, default=5_000)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--maintenance-work-mem-mb", type=int, required=True)
    args = parser.parse_args()

    import chromadb
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg import sql
    from psycopg.types.json import Jsonb

    imported = time.perf_counter()
    client = chromadb.PersistentClient(path=args.path)
    collection = client.get_collection(args.collection)
    table = sql.Identifier(args.schema, args.table)
    rows = 0
    read_s = 0.0
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(args.schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        copy_started = time.perf_counter()

        def page() -> dict:
            nonlocal read_s
            page_started = time.perf_counter()
            got = collection.get(limit=args.page, offset=rows,
                                 include=["embeddings", "documents", "metadatas"])  # type: ignore[list-item]
            read_s += time.perf_counter() - page_started
            return dict(got)

        got = page()
        dims = len(got["embeddings"][0]) if got["ids"] else 1
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, embedding vector({}), document text, "
                                "metadata jsonb)").format(table, sql.Literal(dims)))
            with cur.copy(sql.SQL("COPY {} (id, embedding, document, metadata) FROM STDIN WITH (FORMAT BINARY)"
                                  ).format(table)) as copy:
                copy.set_types(["text", "vector", "text", "jsonb"])
                while got["ids"]:
                    for record_id, vector, document, metadata in zip(got["ids"], got["embeddings"], got["documents"],
                                                                     got["metadatas"], strict=True):
                        copy.write_row([record_id, vector, document, None if metadata is None else Jsonb(metadata)])
                    rows += len(got["ids"])
                    got = page() if len(got["ids"]) == args.page else {"ids": []}
        loaded = time.perf_counter()
        conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(f"{args.maintenance_work_mem_mb}MB")))
        conn.execute(sql.SQL("CREATE INDEX ON {} USING hnsw (embedding vector_cosine_ops) WITH (m = {}, "
                             "ef_construction = {})").format(table, sql.Literal(args.m),
                                                             sql.Literal(args.ef_construction)))
        indexed = time.perf_counter()
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    if count is None or count[0] != rows:
        raise RuntimeError(f"the minimal pipeline loaded {count} rows, read {rows}")
    print(json.dumps({"rows": rows, "imports_s": round(imported - STARTED, 3),
                      "read_s": round(read_s, 3), "read_and_copy_s": round(loaded - copy_started, 3),
                      "index_s": round(indexed - loaded, 3), "inside_s": round(indexed - STARTED, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
