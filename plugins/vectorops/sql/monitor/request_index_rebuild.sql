-- A recall breach: ask the next maintenance run to rebuild the table's index (it clears the request).
INSERT INTO vectorops.index_health AS h (table_schema, table_name, index_name, rebuild_reason, rebuild_requested_at)
VALUES (%(table_schema)s, %(table_name)s, %(index_name)s, %(reason)s, now())
ON CONFLICT (table_schema, table_name) DO UPDATE SET
    index_name = COALESCE(h.index_name, EXCLUDED.index_name),
    rebuild_reason = EXCLUDED.rebuild_reason,
    rebuild_requested_at = EXCLUDED.rebuild_requested_at
