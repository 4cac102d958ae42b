-- The recorded digests of some of a collection's records, for its live table's attempt.
SELECT id, digest FROM vectorops.sync_digests WHERE collection = %s AND attempt_id = %s AND id = ANY(%s)
