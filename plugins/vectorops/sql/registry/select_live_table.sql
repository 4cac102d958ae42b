-- The newest registry row of a collection: its live table and what the gate recorded.
SELECT table_schema, table_name, loaded_count, dimensions, distance, normalized, metadata_count,
    content_sha256, app_written FROM vectorops.collection_registry WHERE collection_key = %s
ORDER BY migrated_at DESC LIMIT 1
