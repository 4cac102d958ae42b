-- Churn and dead tuples of a table are measured from now on; a known built row count is kept.
INSERT INTO vectorops.index_health AS h (table_schema, table_name, index_name, built_rows,
                                         built_changes, built_dead_rows)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (table_schema, table_name) DO UPDATE SET
    built_rows = coalesce(h.built_rows, EXCLUDED.built_rows),
    built_changes = EXCLUDED.built_changes, built_dead_rows = EXCLUDED.built_dead_rows
