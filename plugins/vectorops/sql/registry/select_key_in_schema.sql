-- Whether a collection key is registered in a schema.
SELECT 1 FROM vectorops.collection_registry
WHERE collection_key = %s AND table_schema = %s
