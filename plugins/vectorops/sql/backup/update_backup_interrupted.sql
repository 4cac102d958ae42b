-- An interrupted backup fails, unless its status changed meanwhile.
UPDATE vectorops.backups SET status = 'failed', error = %s, verified_at = NULL,
       finished_at = coalesce(finished_at, now())
WHERE backup_id = %s AND status = %s
