-- The promoted table's index was just built on every loaded row. Its change counter and dead tuples also count
-- the COPY and any retried chunk, so maintenance takes them as the baseline when it first looks (NULL until then).
INSERT INTO vectorops.index_health AS h (table_schema, table_name, index_name, built_at, built_rows)
VALUES (%(table_schema)s, %(table_name)s, %(index_name)s, now(), %(loaded_count)s)
ON CONFLICT (table_schema, table_name) DO UPDATE SET
    index_name = EXCLUDED.index_name, built_at = EXCLUDED.built_at, built_rows = EXCLUDED.built_rows,
    built_changes = NULL, built_dead_rows = NULL, rebuild_reason = NULL, rebuild_requested_at = NULL,
    advised_ef_search = NULL, advised_recall = NULL, advised_at = NULL, search_knob = NULL
