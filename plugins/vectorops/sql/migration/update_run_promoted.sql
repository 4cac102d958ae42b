UPDATE vectorops.migration_runs SET status = 'promoted', finished_at = now(), heartbeat_at = now(),
    rows_per_s = %(rows_per_s)s, changes_behind = %(changes_behind)s
WHERE attempt_id = %(attempt_id)s
