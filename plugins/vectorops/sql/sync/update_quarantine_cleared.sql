-- Records a sync loaded, deleted or quarantined again: their earlier entries stay as history, no longer counted.
UPDATE vectorops.quarantine
SET cleared_at = now(), cleared_by = %(sync_id)s
WHERE collection = %(collection)s AND attempt_id = %(attempt_id)s AND cleared_at IS NULL
  AND record_id = ANY(%(record_ids)s)
