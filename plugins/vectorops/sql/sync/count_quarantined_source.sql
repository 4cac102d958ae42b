-- Source ids (at the read point) whose record is quarantined and still counts.
SELECT count(*) FROM pg_temp.vectorops_sync_source s
WHERE EXISTS (SELECT 1 FROM vectorops.quarantine q
              WHERE q.collection = %s AND q.attempt_id = %s AND q.cleared_at IS NULL AND q.record_id = s.id)
