-- The next page of the attempt's staged ids after the id %(after)s, in byte order (keyset paging).
SELECT id, source_position FROM vectorops.migration_source_ids
WHERE attempt_id = %(attempt_id)s AND id > %(after)s
ORDER BY id
LIMIT %(size)s
