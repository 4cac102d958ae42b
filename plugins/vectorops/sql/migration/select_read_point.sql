-- What an attempt's ids were staged at: read point, its time, the files' stamp, the staged count and the ids
-- found gone (at staging and by the chunks).
SELECT read_point, read_point_at, source_stamp, source_count, gone_count
FROM vectorops.migration_runs
WHERE attempt_id = %s
