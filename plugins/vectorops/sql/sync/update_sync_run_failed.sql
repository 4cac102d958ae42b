UPDATE vectorops.sync_runs
SET status = 'failed', finished_at = now(), seconds = %(seconds)s, error = %(error)s
WHERE sync_id = %(sync_id)s AND status = 'running'
