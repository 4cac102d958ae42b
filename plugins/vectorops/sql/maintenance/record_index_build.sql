-- The vector index was rebuilt on the table's current rows: churn, growth and dead tuples are measured from
-- here on, and any rebuild request of the search monitor is answered.
INSERT INTO vectorops.index_health AS h (table_schema, table_name, index_name, built_at, built_rows, built_changes,
                                         built_dead_rows)
VALUES (%(schema)s, %(table)s, %(index)s, now(), %(rows)s, %(changes)s, %(dead)s)
ON CONFLICT (table_schema, table_name) DO UPDATE SET
    index_name = EXCLUDED.index_name, built_at = EXCLUDED.built_at, built_rows = EXCLUDED.built_rows,
    built_changes = EXCLUDED.built_changes, built_dead_rows = EXCLUDED.built_dead_rows, rebuild_reason = NULL,
    rebuild_requested_at = NULL
