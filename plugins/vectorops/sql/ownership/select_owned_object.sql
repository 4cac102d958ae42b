-- Whether vectorops recorded creating this schema or table, under this very oid.
SELECT 1 FROM vectorops.owned_objects
WHERE kind = %s AND schema_name = %s AND object_name = %s AND object_oid = %s
