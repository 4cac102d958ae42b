-- Digests recorded for another attempt's table: the collection was migrated again since (a fresh snapshot).
DELETE FROM vectorops.sync_digests WHERE collection = %s AND attempt_id <> %s
