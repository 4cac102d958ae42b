INSERT INTO vectorops.sync_digests (collection, attempt_id, id, digest)
SELECT %s, %s, i, d FROM unnest(%s::text[], %s::bytea[]) AS u(i, d)
ON CONFLICT (collection, id) DO UPDATE SET digest = EXCLUDED.digest, attempt_id = EXCLUDED.attempt_id
