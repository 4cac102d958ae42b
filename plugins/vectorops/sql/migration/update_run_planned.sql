-- Staging is done and the chunks are planned: the attempt loads from now on.
UPDATE vectorops.migration_runs SET status = 'loading', chunks = %(chunks)s, source_count = %(source_count)s,
    dimensions = %(dimensions)s, distance = %(distance)s, embedding_mode = %(embedding_mode)s,
    embedding_model = %(embedding_model)s, reader = %(reader)s, heartbeat_at = now()
WHERE attempt_id = %(attempt_id)s
