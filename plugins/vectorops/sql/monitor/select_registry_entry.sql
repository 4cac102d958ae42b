-- The registry's latest entry of a collection key: its table, vectors, index and search setting.
SELECT table_schema, table_name, dimensions, distance, index_name, hnsw_ef_search, last_attempt_id
FROM vectorops.collection_registry WHERE collection_key = %s
ORDER BY migrated_at DESC LIMIT 1
