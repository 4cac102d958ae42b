-- Every registry table, and whether it exists: the schemas of those that do are dumped.
SELECT r.table_schema, r.table_name, r.collection_key AS collection,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = r.table_schema AND c.relname = r.table_name) AS present
FROM vectorops.collection_registry r
ORDER BY r.table_schema COLLATE "C", r.table_name COLLATE "C"
