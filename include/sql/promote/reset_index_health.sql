-- The promoted table's index was just built on every loaded row: the baseline maintenance measures churn from.
-- COPY counted each loaded row as an insert, so the table's change counter starts at loaded_count.
INSERT INTO vectorops.index_health AS h (table_schema, table_name, index_name, built_at, built_rows, built_changes)
VALUES (%(table_schema)s, %(table_name)s, %(index_name)s, now(), %(loaded_count)s, %(loaded_count)s)
ON CONFLICT (table_schema, table_name) DO UPDATE SET
    index_name = EXCLUDED.index_name, built_at = EXCLUDED.built_at, built_rows = EXCLUDED.built_rows,
    built_changes = EXCLUDED.built_changes, rebuild_reason = NULL, rebuild_requested_at = NULL,
    advised_ef_search = NULL, advised_recall = NULL, advised_at = NULL
