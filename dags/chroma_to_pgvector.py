"""
### Chroma → pgvector migration

Moves every record of the chosen Chroma collections (ids, float32 embeddings, documents, metadata,
uris) into PostgreSQL + pgvector, one table per collection in `target_schema`.

Per collection: claim it (one run at a time), stage its ids, load id-range chunks by binary COPY into a
shadow table (mapped, so workers share the work), re-embedding documents when **reembed** asks, then add
the primary key, validate the shadow table (Great Expectations suite and parity with the source: a
checksum over every row, a seeded sample, top-10 overlap), build the HNSW index with the opclass of the
Chroma space, ANALYZE, and promote the shadow table in one transaction (the old table is kept as
`<name>__prev`). A table that fails validation is never promoted, and an alert is sent. Records
PostgreSQL cannot hold go to `vectorops.quarantine`. A rerun resumes an interrupted migration from the
chunks that committed.

Set **Dry run** (at the top of the form) to see the plan (rows, bytes, re-embed counts, index memory) as the run
note without writing anything.

A request that cannot run (a wrong path, an unknown collection, a bad setting) fails `plan_request` at once, without
retries, with the reason as the run note; every later task is left `upstream_failed` or skipped, and one alert is
sent. A finished migration writes its summary (read / loaded / quarantined, load rows/s, table per collection) as
the run note and emits one `vectorops.migrations` Asset event, which starts one `pgvector_data_quality` run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import Param, dag

from vectorops.airflow.defaults import default_args
from vectorops.airflow.migration_group import chroma_to_pgvector_group

# the workers' store, shown in the form (read at parse time: an environment variable, no I/O)
_DEFAULT_PATH = os.environ.get("CHROMA_DB_PATH") or "(not set)"


@dag(
    dag_id=Path(__file__).stem,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["vectorops", "migration", "chroma", "pgvector"],
    default_args=default_args(),
    max_active_tasks=8,
    # not 1: collection claims keep two runs apart (a second run of the same collection is refused at once, naming the
    # run that holds it; one of other collections goes ahead) and the vectorops_heavy pool serializes the index
    # builds; a third run waits queued, as each run already loads with up to 8 tasks into the same server
    max_active_runs=2,
    params={
        # no section: Airflow's trigger form shows these first, in its one section that starts open
        "dry_run": Param(False, type=["null", "boolean"], title="Dry run",
                         description_md="Print the plan (rows, bytes, re-embed counts, index memory) as the run "
                                        "note and write nothing. Off: the collections are migrated."),
        "chroma_path": Param(None, type=["null", "string"], pattern="^(/.*)?$", title="Chroma path",
                             section="Source", examples=["/data/chroma"],
                             description_md="Absolute path of a Chroma PersistentClient store (the directory "
                                            "holding `chroma.sqlite3`). Empty: the workers' `CHROMA_DB_PATH`, "
                                            f"here `{_DEFAULT_PATH}`. A path that is not a Chroma store fails the "
                                            "run at once, saying why."),
        "chroma_host": Param(None, type=["null", "string"], title="Chroma HTTP host", section="Source",
                             description_md="Read from a Chroma server instead of a path (e.g. `chroma.internal`)."),
        "chroma_port": Param(8000, type=["null", "integer"], minimum=1, maximum=65535, title="Chroma HTTP port",
                             section="Source",
                             description_md="Port of the Chroma server named in **Chroma HTTP host**. Ignored for a "
                                            "path or a connection; empty: 8000."),
        "chroma_conn": Param(None, type=["null", "string"], title="Chroma connection", section="Source",
                             description_md="Read from a Chroma server through an Airflow connection of type "
                                            "`chroma` (instead of host and port): it holds the host and port, the "
                                            "token or login/password, HTTPS with a CA bundle, and the `tenant` and "
                                            "`database` to read (empty database: all of the tenant's). See "
                                            "`docs/chroma-servers.md`."),
        "collections": Param([], type=["null", "array"], items={"type": "string"}, title="Collections",
                             section="Source",
                             description_md="Collections to migrate, one per line: `tenant/database/name` "
                                            "(e.g. `acme/prod/docs`), or a bare name (`docs`) when only one tenant "
                                            "and database has it. Empty: every collection in every tenant and "
                                            "database. An unknown or ambiguous name fails the run at once and "
                                            "lists the candidates."),
        "reembed": Param("never", type="string", enum=["never", "auto", "always"], title="Re-embed",
                         section="Migration",
                         description_md="`never` copies the source vectors exactly. `always` embeds every "
                                        "document with the target model (`VECTOROPS_EMBEDDING_MODEL`, default "
                                        "all-MiniLM-L6-v2). `auto` re-embeds a collection whose recorded model "
                                        "differs, and re-embeds single unusable vectors (zero norm under "
                                        "cosine, non-finite). A record with no document keeps its old vector "
                                        "only if it fits the table; otherwise it is quarantined."),
        "target_schema": Param("vectors", type="string", pattern="^[a-z_][a-z0-9_]{0,62}$", title="Target schema",
                               section="Migration", description_md="PostgreSQL schema for the vector tables."),
        "previous_table": Param("refuse", type="string", enum=["refuse", "keep", "drop"],
                                title="Table in another schema", section="Migration",
                                description_md="When a collection was migrated into another schema before: "
                                               "`refuse` stops the run and names that table; `keep` leaves it, "
                                               "still validated and monitored under its own key; `drop` drops it "
                                               "once the new table is promoted (only a table vectorops created)."),
        "index": Param("hnsw", type="string", enum=["hnsw", "ivfflat", "hnsw_halfvec", "hnsw_bit_rerank"],
                       title="Vector index", section="Migration",
                       description_md="`hnsw` (default): HNSW with the collection's own m and ef_construction. "
                                      "`ivfflat`: IVFFlat, lists from the row count; builds fastest. "
                                      "`hnsw_halfvec`: HNSW on half-precision vectors, half the index size. "
                                      "`hnsw_bit_rerank`: HNSW on binary-quantised vectors, candidates "
                                      "re-ranked by the full vector. The monitor tunes each one's knob "
                                      "(docs/search-indexes.md)."),
        "batch_size": Param(5000, type="integer", minimum=1, maximum=100000, title="Fetch batch size",
                            section="Migration",
                            description_md="Records fetched from Chroma per request (capped by Chroma's maximum)."),
    },
)
def chroma_to_pgvector() -> None:
    # the same task group a user's DAG adds with explicit arguments (docs/using-in-your-dags.md); here the request is
    # the run's Params, and the task ids keep no prefix
    chroma_to_pgvector_group(request_from_params=True, prefix_group_id=False)


chroma_to_pgvector()
