-- The cutover's outcome on its final sync's row: the window it measured, or why it did not cut over.
UPDATE vectorops.sync_runs
SET status = %(status)s, window_seconds = %(window_seconds)s, error = %(error)s, finished_at = now()
WHERE sync_id = %(sync_id)s
