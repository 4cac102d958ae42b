UPDATE vectorops.sync_runs
SET status = 'done', finished_at = now(), seconds = %(seconds)s, lag_records = %(lag_records)s,
    lag_seconds = %(lag_seconds)s, window_seconds = %(window_seconds)s
WHERE sync_id = %(sync_id)s
