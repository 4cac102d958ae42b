-- A collection's table and settings from the registry (migrated or created by the store), and the store's own
-- row (collection metadata) when the store created it.
SELECT r.table_schema, r.table_name, r.dimensions, r.distance, r.index_name, r.index_method, r.hnsw_m,
       r.hnsw_ef_construction, r.hnsw_ef_search, s.metadata, s.collection IS NOT NULL AS store_created,
       to_regclass(quote_ident(r.table_schema) || '.' || quote_ident(r.table_name)) IS NOT NULL AS table_exists
FROM vectorops.collection_registry r
LEFT JOIN vectorops.store_collections s ON s.collection = r.collection_key
WHERE r.collection_key = %(collection)s
ORDER BY r.migrated_at DESC
LIMIT 1
