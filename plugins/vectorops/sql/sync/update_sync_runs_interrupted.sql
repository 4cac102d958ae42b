-- Syncs of the collection still marked running when a new one takes its lock: their process ended unfinished
-- (their committed batches stand; the new sync starts from the read point they reached).
UPDATE vectorops.sync_runs
SET status = 'failed', finished_at = now(), error = 'interrupted: its process ended before the sync finished'
WHERE collection = %s AND status = 'running'
