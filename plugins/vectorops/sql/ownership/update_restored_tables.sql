-- After a restore: the records of the tables in the restored schemas point at the tables now under those names.
UPDATE vectorops.owned_objects o SET object_oid = c.oid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE o.kind = 'table' AND n.nspname = o.schema_name AND c.relname = o.object_name
  AND c.relkind IN ('r', 'p') AND o.schema_name = ANY(%s)
