-- A collection of one service's schema (%(schema)s), migrated or created by the store, by its name or its exact
-- registry key: an exact key first, then Chroma's default tenant and database, then the newest. Other schemas'
-- collections are not seen. The metadata of the store's own row only when the row is app-written.
SELECT r.collection_key, r.collection, r.table_schema, r.table_name, r.dimensions, r.distance, r.index_method,
       r.hnsw_m, r.hnsw_ef_construction, r.hnsw_ef_search, r.ivfflat_lists, CASE WHEN r.app_written THEN s.metadata END,
       to_regclass(quote_ident(r.table_schema) || '.' || quote_ident(r.table_name)) IS NOT NULL AS table_exists
FROM vectorops.collection_registry r
LEFT JOIN vectorops.store_collections s ON s.collection = r.collection_key
WHERE r.table_schema = %(schema)s AND (r.collection = %(collection)s OR r.collection_key = %(collection)s)
ORDER BY r.collection_key = %(collection)s DESC,
         (r.tenant, r.database) = ('default_tenant', 'default_database') DESC, r.migrated_at DESC
LIMIT 1
