-- The latest unfinished attempt of the same source into the same target: a new run resumes it.
SELECT attempt_id, run_id, shadow_table, status FROM vectorops.migration_runs
WHERE collection = %(collection)s AND status IN ('scanning', 'loading', 'failed')
  AND source_fingerprint = %(fingerprint)s AND target_schema = %(target_schema)s AND table_name = %(table_name)s
ORDER BY started_at DESC
LIMIT 1
