-- The attempt's chunks summed: how many are not done, and the counts of those that are.
SELECT count(*) FILTER (WHERE status <> 'done'), coalesce(sum(loaded_count), 0), coalesce(sum(quarantined_count), 0),
       coalesce(sum(row_count), 0), coalesce(sum(reembedded_count), 0), coalesce(sum(kept_vector_count), 0),
       coalesce(sum(metadata_count), 0), coalesce(sum(gone_count), 0)
FROM vectorops.migration_chunks
WHERE attempt_id = %s
