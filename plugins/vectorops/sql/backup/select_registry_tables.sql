-- Every registry table, whether it exists, and whether vectorops created its schema: the schemas of those that
-- exist in a schema vectorops created are dumped (whole), never anyone else's schema.
SELECT r.table_schema, r.table_name, r.collection_key AS collection,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = r.table_schema AND c.relname = r.table_name) AS present,
       EXISTS (SELECT 1 FROM vectorops.owned_objects o JOIN pg_namespace n ON n.oid = o.object_oid
               WHERE o.kind = 'schema' AND o.schema_name = r.table_schema AND n.nspname = r.table_schema) AS ours
FROM vectorops.collection_registry r
ORDER BY r.table_schema COLLATE "C", r.table_name COLLATE "C"
