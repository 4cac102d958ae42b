-- Add one committed chunk to the attempt's totals (and show the attempt is alive).
UPDATE vectorops.migration_runs SET loaded_count = loaded_count + %(loaded)s,
    quarantined_count = quarantined_count + %(quarantined)s, load_seconds = load_seconds + %(seconds)s,
    gone_count = gone_count + %(gone)s, heartbeat_at = now()
WHERE attempt_id = %(attempt_id)s
