-- Backups of the given statuses (all when NULL), newest first, at most the limit (all when NULL).
SELECT {columns} FROM vectorops.backups
WHERE %(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s)
ORDER BY started_at DESC, backup_id DESC LIMIT %(limit)s
