DELETE FROM vectorops.sync_digests WHERE collection = %s AND id = ANY(%s)
