-- A batch applied: the table now holds every change up to this read point, and these counts.
UPDATE vectorops.collection_registry
SET read_point = %(read_point)s, read_point_at = %(read_point_at)s, sync_state = %(sync_state)s,
    last_sync_id = %(sync_id)s,
    loaded_count = loaded_count + %(loaded_delta)s, quarantined_count = quarantined_count + %(quarantined_delta)s,
    -- the migration's checksum and metadata count describe a table that has changed since: the cutover's full
    -- parity sets them again
    content_sha256 = NULL, metadata_count = NULL
WHERE collection_key = %(collection)s
