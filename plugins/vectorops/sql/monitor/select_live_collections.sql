-- Collections whose live table exists now (a registry row can outlive a dropped table), by name.
SELECT DISTINCT r.collection_key
FROM vectorops.collection_registry r
WHERE to_regclass(quote_ident(r.table_schema) || '.' || quote_ident(r.table_name)) IS NOT NULL
ORDER BY r.collection_key
