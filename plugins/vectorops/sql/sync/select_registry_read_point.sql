-- The collection's read point and state, locked until the caller's transaction ends: a batch commits only on
-- the read point it started from.
SELECT read_point, sync_state, last_attempt_id, table_schema, table_name
FROM vectorops.collection_registry
WHERE collection_key = %s
FOR UPDATE
