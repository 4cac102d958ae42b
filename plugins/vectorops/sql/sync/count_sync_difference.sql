-- {table}: the live table. Source ids (at the read point) the table lacks, and table ids the source lacks.
SELECT (SELECT count(*) FROM pg_temp.vectorops_sync_source s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = s.id)),
       (SELECT count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM pg_temp.vectorops_sync_source s WHERE s.id = t.id))
