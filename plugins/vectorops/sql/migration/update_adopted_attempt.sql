-- Another run's stale attempt becomes this run's; it goes on from where its ledger says it was.
UPDATE vectorops.migration_runs
SET run_id = %s, owner_token = %s, heartbeat_at = now(), error = NULL,
    status = CASE WHEN chunks IS NULL THEN 'scanning' ELSE 'loading' END
WHERE attempt_id = %s
RETURNING status
