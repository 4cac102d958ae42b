-- The recovery drills Vector Health shows: the newest that passed ('verified') and the newest of any outcome
-- ('last'); the same drill twice when the newest passed.
SELECT DISTINCT ON (k.kind) k.kind, d.drill_id, d.status, d.finished_at, d.target_at, d.backup_id, d.base_backups,
       d.recovery_seconds, d.tables, d.total_rows, d.archive_lag_seconds, d.error
FROM vectorops.recovery_drills d
CROSS JOIN LATERAL (VALUES ('last'), (CASE WHEN d.status = 'passed' THEN 'verified' END)) AS k (kind)
WHERE k.kind IS NOT NULL
ORDER BY k.kind, d.finished_at DESC, d.drill_id DESC
