-- A chunk committed: its counts, and the attempt's running totals.
UPDATE vectorops.migration_chunks SET status = 'done', loaded_count = %(loaded)s,
    quarantined_count = %(quarantined)s, seconds = %(seconds)s, done_at = now(), reembedded_count = %(reembedded)s,
    kept_vector_count = %(kept)s, metadata_count = %(metadata)s, gone_count = %(gone)s
WHERE attempt_id = %(attempt_id)s AND chunk_no = %(chunk_no)s
