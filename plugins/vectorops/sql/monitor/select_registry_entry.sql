-- The registry's latest entry of a collection key: its table, vectors, index (name, IVFFlat lists) and
-- search setting.
SELECT table_schema, table_name, dimensions, distance, index_name, hnsw_ef_search, last_attempt_id, ivfflat_lists
FROM vectorops.collection_registry WHERE collection_key = %s
ORDER BY migrated_at DESC LIMIT 1
