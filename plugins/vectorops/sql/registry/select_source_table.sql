-- The table of one source identity in one schema.
SELECT table_name FROM vectorops.collection_registry
WHERE source_uri = %s AND tenant = %s AND database = %s AND collection = %s
    AND table_schema = %s
