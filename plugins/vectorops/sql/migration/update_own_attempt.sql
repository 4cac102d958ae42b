-- A run takes its own attempt up again (a task retry): a failed one goes back to where its ledger says it was.
UPDATE vectorops.migration_runs SET heartbeat_at = now(), error = NULL,
    status = CASE WHEN status <> 'failed' THEN status WHEN chunks IS NULL THEN 'scanning' ELSE 'loading' END
WHERE attempt_id = %s
RETURNING shadow_table, status
