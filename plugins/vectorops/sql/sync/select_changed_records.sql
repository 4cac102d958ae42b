-- {table}: the live table. Source records written after the read point, or missing from the table.
SELECT s.id, s.seq
FROM pg_temp.vectorops_sync_source s
WHERE s.seq > %(read_point)s OR NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = s.id)
ORDER BY s.seq, s.id
