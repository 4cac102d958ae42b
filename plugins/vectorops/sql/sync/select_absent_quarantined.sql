-- Of the collection's quarantined record ids, those the source no longer holds.
SELECT q.id FROM unnest(%s::text[]) AS q(id)
WHERE NOT EXISTS (SELECT 1 FROM pg_temp.vectorops_sync_source s WHERE s.id = q.id)
