INSERT INTO vectorops.collection_claims (collection, attempt_id, run_id) VALUES (%s, %s, %s)
ON CONFLICT (collection) DO UPDATE SET attempt_id = EXCLUDED.attempt_id, run_id = EXCLUDED.run_id,
    claimed_at = now()
