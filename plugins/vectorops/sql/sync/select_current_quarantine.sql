-- The collection's quarantined records that still count: of its live attempt, not cleared by a later sync.
SELECT quarantine_id, record_id
FROM vectorops.quarantine
WHERE collection = %s AND attempt_id = %s AND cleared_at IS NULL
