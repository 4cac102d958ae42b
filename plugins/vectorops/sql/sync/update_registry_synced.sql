-- A sync finished: the source's size at the read point and the lag measured after it.
UPDATE vectorops.collection_registry
SET source_count = %(source_count)s, changes_behind = %(changes_behind)s, lag_checked_at = now()
WHERE collection_key = %(collection)s
