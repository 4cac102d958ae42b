-- The source identity that holds a table.
SELECT source_uri, tenant, database, collection FROM vectorops.collection_registry
WHERE table_schema = %s AND table_name = %s
