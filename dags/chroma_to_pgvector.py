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

Set **dry_run** to see the plan (rows, bytes, re-embed counts, index memory) without writing anything.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import AssetAlias, Param, dag, task

from vectorops.airflow.defaults import default_args

MIGRATED_TABLES = AssetAlias("vectorops_migrated_tables")


@dag(
    dag_id=Path(__file__).stem,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["vectorops", "migration", "chroma", "pgvector"],
    default_args=default_args(),
    max_active_tasks=8,
    params={
        "chroma_path": Param(None, type=["null", "string"], pattern="^(/.*)?$", title="Chroma path",
                             section="Source", examples=["/data/chroma"],
                             description_md="Absolute path of a Chroma PersistentClient store (the directory "
                                            "holding `chroma.sqlite3`). Empty: `CHROMA_DB_PATH` of the workers. "
                                            "A path that is not a Chroma store fails the run at once, saying why."),
        "chroma_host": Param(None, type=["null", "string"], title="Chroma HTTP host", section="Source",
                             description_md="Read from a Chroma server instead of a path (e.g. `chroma.internal`)."),
        "chroma_port": Param(8000, type="integer", minimum=1, maximum=65535, title="Chroma HTTP port",
                             section="Source"),
        "chroma_conn": Param(None, type=["null", "string"], title="Chroma connection", section="Source",
                             description_md="Read from a Chroma server through an Airflow connection of type "
                                            "`chroma` (instead of host and port): it holds the host and port, the "
                                            "token or login/password, HTTPS with a CA bundle, and the `tenant` and "
                                            "`database` to read (empty database: all of the tenant's). See "
                                            "`docs/chroma-servers.md`."),
        "collections": Param([], type="array", items={"type": "string"}, title="Collections", section="Source",
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
        "batch_size": Param(5000, type="integer", minimum=1, maximum=100000, title="Fetch batch size",
                            section="Migration",
                            description_md="Records fetched from Chroma per request (capped by Chroma's maximum)."),
        "dry_run": Param(False, type="boolean", title="Dry run", section="Migration",
                         description_md="Print the plan (rows, bytes, index memory) and write nothing."),
    },
)
def chroma_to_pgvector() -> None:
    @task
    def plan_request() -> list[str]:
        """Validate the params and list the collections to migrate (empty on a dry run)."""
        from vectorops.airflow.tasks.migration import plan_request

        return plan_request()

    @task(map_index_template="{{ collection }}")
    def prepare_collection(collection: str) -> dict:
        """Claim the collection, stage its ids and plan its chunks."""
        from vectorops.airflow.tasks.migration import prepare_collection

        return prepare_collection(collection)

    @task(trigger_rule="all_done")
    def list_chunks(plans: list[dict]) -> list[dict]:
        """One entry per chunk of every planned collection."""
        from vectorops.airflow.tasks.migration import list_chunks

        return list_chunks(plans[:])

    @task(map_index_template="{{ chunk_label }}")
    def load_chunk(chunk: dict) -> dict:
        """Fetch one id-range chunk from Chroma and COPY it into the shadow table."""
        from vectorops.airflow.tasks.migration import load_chunk

        return load_chunk(chunk)

    @task(trigger_rule="all_done", map_index_template="{{ collection }}", outlets=[MIGRATED_TABLES])
    def finalize_collection(plan: dict) -> dict:
        """Check counts, build the HNSW index, ANALYZE and promote; emits an Asset event for the table."""
        from vectorops.airflow.tasks.migration import finalize_collection

        return finalize_collection(plan, MIGRATED_TABLES)

    @task(trigger_rule="all_done")
    def summarize(collections: list[str] | None, summaries: list[dict]) -> list[dict]:
        """Print the per-collection summary; fail the run if any collection did not arrive."""
        from vectorops.airflow.tasks.migration import summarize

        return summarize(None if collections is None else list(collections), summaries[:])

    collections = plan_request()
    plans = prepare_collection.expand(collection=collections)
    loaded = load_chunk.expand(chunk=list_chunks(plans))
    finals = finalize_collection.expand(plan=plans)
    loaded >> finals
    summarize(collections, finals)


chroma_to_pgvector()
