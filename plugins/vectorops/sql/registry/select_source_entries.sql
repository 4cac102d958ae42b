-- The registry rows of one source identity (store, tenant, database, collection).
SELECT collection_key, table_schema, table_name FROM vectorops.collection_registry
WHERE source_uri = %s AND tenant = %s AND database = %s AND collection = %s ORDER BY migrated_at
