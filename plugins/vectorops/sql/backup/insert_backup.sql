-- A backup that has started.
INSERT INTO vectorops.backups (backup_id, status, path, details)
VALUES (%s, 'running', %s, %s)
