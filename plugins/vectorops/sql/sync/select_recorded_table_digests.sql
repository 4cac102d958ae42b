-- {table}: the live table. The recorded source digest of each of its rows (a re-embedded table's vectors are not
-- the source's, so its rows are matched with the digests recorded when they were applied).
SELECT t.id, d.digest FROM {table} t
JOIN vectorops.sync_digests d ON d.collection = %s AND d.attempt_id = %s AND d.id = t.id
