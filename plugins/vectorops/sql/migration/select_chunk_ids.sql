-- The staged ids of one chunk (an id range), in byte order, with their positions in the store's files.
SELECT id, source_position FROM vectorops.migration_source_ids
WHERE attempt_id = %s AND id BETWEEN %s AND %s
ORDER BY id
