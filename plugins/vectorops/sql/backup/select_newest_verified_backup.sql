-- The verified backup taken last (the row's columns are composed in as the placeholder).
SELECT {columns} FROM vectorops.backups WHERE status = 'verified'
ORDER BY started_at DESC, backup_id DESC LIMIT 1
