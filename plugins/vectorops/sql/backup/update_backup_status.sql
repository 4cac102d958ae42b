-- A backup moves to a status: verified stamps verified_at and clears the error; only an expiring verified backup
-- keeps its verified_at.
UPDATE vectorops.backups SET status = %(status)s,
       error = CASE WHEN %(status)s = 'verified' THEN NULL ELSE coalesce(%(error)s, error) END,
       details = coalesce(details, '{}') || %(details)s,
       verify_seconds = coalesce(%(seconds)s, verify_seconds),
       verified_at = CASE %(status)s WHEN 'verified' THEN now() WHEN 'expired' THEN verified_at
                     ELSE NULL END,
       finished_at = coalesce(finished_at, now())
WHERE backup_id = %(backup_id)s
