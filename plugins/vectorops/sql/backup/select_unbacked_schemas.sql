-- Schemas vectorops created (still under their recorded oid) other than the given ones.
SELECT o.schema_name FROM vectorops.owned_objects o
JOIN pg_catalog.pg_namespace n ON n.nspname = o.schema_name AND n.oid = o.object_oid
WHERE o.kind = 'schema' AND o.schema_name <> ALL(%s) ORDER BY 1
