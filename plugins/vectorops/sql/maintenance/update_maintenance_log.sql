-- An action ends: its outcome, duration, sizes after and what PostgreSQL said.
UPDATE vectorops.maintenance_log
SET finished_at = now(), status = %(status)s, duration_s = %(seconds)s, table_bytes_after = %(table_bytes)s,
    index_bytes_after = %(index_bytes)s, details = %(details)s, error = %(error)s
WHERE log_id = %(log_id)s
