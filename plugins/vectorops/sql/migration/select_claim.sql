-- The claim on a collection with what deciding about it needs: its run's owner token, whether its heartbeat is
-- older than the TTL, and whether it migrates the same source into the same target.
SELECT c.attempt_id, c.run_id, r.owner_token, r.heartbeat_at < now() - make_interval(secs => %(ttl_s)s),
       (r.source_fingerprint, r.target_schema, r.table_name) = (%(fingerprint)s, %(target_schema)s, %(table_name)s)
FROM vectorops.collection_claims c JOIN vectorops.migration_runs r USING (attempt_id)
WHERE c.collection = %(collection)s
