-- Actions of one table still 'running' whose session is gone (the maintenance run was killed or lost its
-- connection): they never finished. An index build of theirs left at most an invalid index, which this run drops.
UPDATE vectorops.maintenance_log l
SET status = 'failed', finished_at = now(),
    error = 'interrupted: the maintenance session ended before the action finished'
WHERE l.status = 'running' AND l.table_schema = %(schema)s AND l.table_name = %(table)s
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                  WHERE a.pid = (l.details->>'backend_pid')::integer
                    AND a.backend_start = (l.details->>'backend_start')::timestamptz)
RETURNING l.log_id, l.action, coalesce(l.index_name, l.table_name), l.started_at
