-- A collection of one service's schema (%(schema)s), migrated or created by the store, by its name or its exact
-- registry key: an exact key first, then Chroma's default tenant and database, then the newest. Other schemas'
-- collections are not seen. The metadata of the store's own row only when the row is app-written. An IVFFlat
-- index's lists as the catalog has them (maintenance may have rebuilt it with others).
SELECT r.collection_key, r.collection, r.table_schema, r.table_name, r.dimensions, r.distance, r.index_method,
       r.hnsw_m, r.hnsw_ef_construction, r.hnsw_ef_search,
       coalesce((SELECT o.option_value::integer
                 FROM pg_class ic, pg_options_to_table(ic.reloptions) AS o
                 WHERE ic.oid = to_regclass(quote_ident(r.table_schema) || '.' || quote_ident(r.index_name))
                   AND o.option_name = 'lists'), r.ivfflat_lists),
       r.index_kind, CASE WHEN r.app_written THEN s.metadata END,
       to_regclass(quote_ident(r.table_schema) || '.' || quote_ident(r.table_name)) IS NOT NULL AS table_exists
FROM vectorops.collection_registry r
LEFT JOIN vectorops.store_collections s ON s.collection = r.collection_key
WHERE r.table_schema = %(schema)s AND (r.collection = %(collection)s OR r.collection_key = %(collection)s)
ORDER BY r.collection_key = %(collection)s DESC,
         (r.tenant, r.database) = ('default_tenant', 'default_database') DESC, r.migrated_at DESC
LIMIT 1
