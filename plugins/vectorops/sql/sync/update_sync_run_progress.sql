-- One applied batch, in the batch's transaction.
UPDATE vectorops.sync_runs
SET to_point = %(to_point)s, added = added + %(added)s, updated = updated + %(updated)s,
    deleted = deleted + %(deleted)s, quarantined = quarantined + %(quarantined)s
WHERE sync_id = %(sync_id)s
