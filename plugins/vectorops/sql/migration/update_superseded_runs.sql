-- Unfinished attempts of the collection other than the one kept are superseded; what they left is dropped.
UPDATE vectorops.migration_runs SET status = 'superseded', finished_at = now()
WHERE collection = %s AND status IN ('scanning', 'loading', 'failed', 'rejected')
  AND attempt_id IS DISTINCT FROM %s
RETURNING attempt_id, target_schema, shadow_table
