-- Record a schema or table vectorops just created (a name used before points at the new oid).
INSERT INTO vectorops.owned_objects (kind, schema_name, object_name, object_oid, created_by)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (kind, schema_name, object_name) DO UPDATE
SET object_oid = EXCLUDED.object_oid, created_by = EXCLUDED.created_by, created_at = now()
