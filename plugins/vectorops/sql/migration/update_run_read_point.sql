-- What the attempt's ids were staged at: the collection's read point (NULL for a source without sequence
-- numbers), when it was taken, and the files' stamp (NULL when staged through Chroma's API).
UPDATE vectorops.migration_runs SET read_point = %(read_point)s, read_point_at = %(read_point_at)s,
    source_stamp = %(stamp)s
WHERE attempt_id = %(attempt_id)s
