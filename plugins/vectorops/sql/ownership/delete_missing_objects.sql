-- After a restore: records in the restored schemas of objects the backup does not hold go.
DELETE FROM vectorops.owned_objects o WHERE o.schema_name = ANY(%s) AND NOT EXISTS (
    SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE o.kind = 'table' AND n.nspname = o.schema_name AND c.relname = o.object_name
    UNION ALL
    SELECT 1 FROM pg_namespace n WHERE o.kind = 'schema' AND n.nspname = o.schema_name)
