-- The shadow table lost rows: every chunk of the attempt loads again.
UPDATE vectorops.migration_chunks SET status = 'pending', loaded_count = NULL, quarantined_count = NULL,
    seconds = NULL, done_at = NULL, reembedded_count = 0, kept_vector_count = 0, metadata_count = 0, gone_count = 0
WHERE attempt_id = %s
