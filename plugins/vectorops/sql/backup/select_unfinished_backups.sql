-- Backups being taken, or being verified once the verification started: each is at work while its owner lock
-- is held, and was interrupted when nobody holds it.
SELECT backup_id, status FROM vectorops.backups
WHERE status = 'running'
   OR (status = 'verifying' AND details ? 'verification_started_at')
