"""
### Chroma → pgvector live sync

Every 5 minutes, applies what was written to Chroma since each migrated table's read point: adds, updates,
upserts and deletes, in batches of one transaction each that move the table's read point with its data (records
PostgreSQL cannot hold go to `vectorops.quarantine`). One mapped task per collection logs the `vectorops sync`
line: counts, read points, lag and parity.

**Which collections**: those named in **collections** (migrated from the source the Params name, else from
`CHROMA_DB_PATH`); with none named, every collection in state `syncing` (after its first sync), each from the
local store its registry row records (or only those of the source the Params name). A collection migrated from
a Chroma server is synced only by a run that names it with its **chroma_conn** or **chroma_host**. Nothing to
sync (yet): `list_collections` skips the run's tasks, saying so.

A sync that leaves its table more than **max_lag_s** seconds behind (default: today's `VECTOROPS_SYNC_MAX_LAG_S`,
900 unless set) alerts and fails its task. A collection busy with another sync or a migration fails its task
without an alert; the next run syncs it.

Set **cutover** (with the collections named, and their writers paused) to run the final sync and full parity
at its read point instead; a cut-over collection is no longer synced. See `docs/live-sync.md`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from vectorops.airflow.defaults import default_args
from vectorops.airflow.scheduled_params import SYNC_THRESHOLDS, threshold_params


@dag(
    dag_id=Path(__file__).stem,
    schedule=CronTriggerTimetable("*/5 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["vectorops", "sync", "chroma", "pgvector"],
    default_args=default_args(retries=1),
    max_active_runs=1,
    params={
        "chroma_path": Param(None, type=["null", "string"], pattern="^(/.*)?$", title="Chroma path",
                             section="Source", examples=["/data/chroma"],
                             description_md="Absolute path of the Chroma store the collections were migrated from. "
                                            "Empty, with no collections named: each collection's own store, from "
                                            "the registry."),
        "chroma_host": Param(None, type=["null", "string"], title="Chroma HTTP host", section="Source",
                             description_md="Sync from a Chroma server instead of a path (e.g. `chroma.internal`)."),
        "chroma_port": Param(8000, type=["null", "integer"], minimum=1, maximum=65535, title="Chroma HTTP port",
                             section="Source",
                             description_md="Port of the Chroma server named in **Chroma HTTP host**; empty: 8000."),
        "chroma_conn": Param(None, type=["null", "string"], title="Chroma connection", section="Source",
                             description_md="Sync from a Chroma server through an Airflow connection of type "
                                            "`chroma` (instead of host and port). See `docs/chroma-servers.md`."),
        "collections": Param([], type=["null", "array"], items={"type": "string"}, title="Collections",
                             section="Source",
                             description_md="Collections to sync, one per line, by key, `tenant/database/name` or "
                                            "bare name. Empty: every collection in state `syncing`. A collection "
                                            "not migrated from the source fails the run at once, naming those "
                                            "that were."),
        "target_schema": Param(None, type=["null", "string"], pattern="^([a-z_][a-z0-9_]{0,62})?$",
                               title="Target schema", section="Sync",
                               description_md="Only tables in this schema. Empty: any schema."),
        "batch_size": Param(5000, type="integer", minimum=1, maximum=100000, title="Batch size", section="Sync",
                            description_md="Changed records applied per transaction."),
        "cutover": Param(False, type="boolean", title="Cut over", section="Sync",
                         description_md="Instead of syncing, cut the named collections over: a final sync, full "
                                        "parity with the source at its read point, then syncs stop. Pause the "
                                        "collections' writers first: a write during the window fails it."),
        **threshold_params(SYNC_THRESHOLDS),
    },
)
def chroma_sync() -> None:
    @task
    def list_collections() -> list[dict]:
        """The collections to sync: those named, else those in state `syncing`."""
        from vectorops.airflow.tasks.sync import list_collections

        return list_collections()

    # a collection key may be longer than Airflow's rendered map index (250 characters)
    @task(map_index_template="{{ collection[:240] }}", execution_timeout=timedelta(hours=1))
    def sync_collection(job: dict) -> dict:
        """Apply one collection's changes since its read point (or cut it over); alert when it lags."""
        from vectorops.airflow.tasks.sync import sync_collection

        return sync_collection(job)

    sync_collection.expand(job=list_collections())


chroma_sync()
