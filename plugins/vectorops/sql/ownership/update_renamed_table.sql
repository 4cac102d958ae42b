-- A recorded table was renamed (same oid): its record follows it. Parameters: new name, schema, old name.
UPDATE vectorops.owned_objects SET object_name = %s
WHERE kind = 'table' AND schema_name = %s AND object_name = %s
