"""
### pgvector data quality

Re-validates every migrated table, daily and after each migration run (one run per migration, through the
`vectorops.migrations` Asset its `summarize` task updates): the Great Expectations
suite (row count, unique non-null ids, non-null embeddings of the right dimension, finite values, no zero
vectors under cosine, unit norms when normalised, metadata present, no duplicates) and the table's
checksum against the baseline recorded at promotion.

Results go to `vectorops.validation_results` and the Data Docs under `VECTOROPS_HOME/data_docs`.
A failing table fails its mapped task and sends an alert to the configured channels; so does a table whose
checks could not run (recorded as the failed expectation `validation_ran`, with the error). Every other table is
still validated, each in its own mapped task. When every table passes, `report` updates the `vectorops.validations`
Asset, which starts one `pgvector_maintenance` run. With nothing migrated yet, the run skips ("nothing to do yet").

**Params**: **collections** to validate (empty, as on a scheduled or asset-triggered run: every migrated one).
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from vectorops.airflow.assets import MIGRATIONS, VALIDATED_TABLES, VALIDATIONS
from vectorops.airflow.defaults import default_args
from vectorops.airflow.scheduled_params import collections_param


@dag(
    dag_id=Path(__file__).stem,
    # one event per migration run (its summarize task), whatever the number of collections: one run here
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("30 3 * * *", timezone="UTC"), assets=MIGRATIONS),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["vectorops", "data-quality", "pgvector"],
    default_args=default_args(),
    max_active_runs=1,
    params={"collections": collections_param("validate", "validate")},
)
def pgvector_data_quality() -> None:
    @task
    def list_migrated() -> list[str]:
        """The collections in `vectorops.collection_registry`; skips the run when there is none yet."""
        from vectorops.airflow.tasks.quality import list_migrated

        return list_migrated()

    # a collection key may be longer than Airflow's rendered map index (250 characters)
    @task(map_index_template="{{ collection[:240] }}", outlets=[VALIDATED_TABLES])
    def validate_table(collection: str) -> dict:
        """Run the suite and the checksum check on one live table."""
        from vectorops.airflow.tasks.quality import validate_table

        return validate_table(collection, VALIDATED_TABLES)

    # one event for the whole run, so maintenance runs once after it; none after a failed validation or a skipped run
    @task(trigger_rule="none_failed_min_one_success", outlets=[VALIDATIONS])
    def report(results: list[dict]) -> dict:
        """One line for the run and one `vectorops.validations` event naming every table that passed."""
        from vectorops.airflow.tasks.quality import report

        return report(results[:], VALIDATIONS)

    report(validate_table.expand(collection=list_migrated()))


pgvector_data_quality()
