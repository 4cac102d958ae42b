-- {table}: the live table. Its rows whose id the source no longer holds.
SELECT t.id
FROM {table} t
WHERE NOT EXISTS (SELECT 1 FROM pg_temp.vectorops_sync_source s WHERE s.id = t.id)
ORDER BY t.id
