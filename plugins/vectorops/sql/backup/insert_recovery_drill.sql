-- One finished recovery drill (backup/pitr/drill).
INSERT INTO vectorops.recovery_drills (drill_id, started_at, status, backup_id, target_lsn, target_at, base_backups,
    recovery_seconds, scratch_port, tables, total_rows, archive_lag_seconds, error, details)
VALUES (%(drill_id)s, %(started_at)s, %(status)s, %(backup_id)s, %(target_lsn)s, %(target_at)s, %(base_backups)s,
    %(recovery_seconds)s, %(scratch_port)s, %(tables)s, %(total_rows)s, %(archive_lag_seconds)s, %(error)s,
    %(details)s)
