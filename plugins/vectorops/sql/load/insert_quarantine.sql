-- One quarantined record: what PostgreSQL cannot hold, with its original payload (UTF-8 JSON).
INSERT INTO vectorops.quarantine (collection, record_id, reason, payload, attempt_id, run_id)
VALUES (%s, %s, %s, %s, %s, %s)
