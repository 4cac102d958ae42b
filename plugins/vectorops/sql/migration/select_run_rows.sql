-- One row per collection of a run, for the CLI's summary.
SELECT collection, status, source_count, loaded_count, quarantined_count, dimensions, distance, rows_per_s, error,
       table_name, target_schema, reader, changes_behind, read_point
FROM vectorops.migration_runs
WHERE run_id = %s
