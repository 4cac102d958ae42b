-- The migration attempt holding a claim on the collection (a sync waits for it), its status and when its process
-- last showed life.
SELECT c.attempt_id, r.status, r.heartbeat_at
FROM vectorops.collection_claims c JOIN vectorops.migration_runs r USING (attempt_id)
WHERE c.collection = %s
