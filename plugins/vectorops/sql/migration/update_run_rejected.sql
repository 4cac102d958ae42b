-- A shadow table failed validation: the attempt is never resumed (its table stays for inspection).
UPDATE vectorops.migration_runs SET status = 'rejected', error = %s, finished_at = now(), heartbeat_at = now()
WHERE attempt_id = %s
