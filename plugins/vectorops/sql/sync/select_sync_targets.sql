-- The migrated collections of one source (a registry row the store created has no source to sync from).
SELECT collection_key, tenant, database, collection, table_schema, table_name, distance, dimensions,
       embedding_mode, embedding_model, source_uri, source_collection_id, last_attempt_id, read_point, read_point_at, sync_state
FROM vectorops.collection_registry
WHERE source_uri = %(source_uri)s AND NOT app_written
ORDER BY collection_key
