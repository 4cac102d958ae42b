UPDATE vectorops.migration_runs SET status = 'promoted', finished_at = now(), heartbeat_at = now(), rows_per_s = %s
WHERE attempt_id = %s
