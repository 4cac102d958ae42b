-- After a restore: the records of the restored schemas point at the schemas now under those names.
UPDATE vectorops.owned_objects o SET object_oid = n.oid
FROM pg_namespace n WHERE o.kind = 'schema' AND n.nspname = o.schema_name
  AND o.schema_name = ANY(%s)
