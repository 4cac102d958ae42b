-- An attempt failed with this error; a rerun resumes it. A promoted attempt stays promoted.
UPDATE vectorops.migration_runs SET status = 'failed', error = %s, heartbeat_at = now()
WHERE attempt_id = %s AND status <> 'promoted'
