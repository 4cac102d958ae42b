DROP TABLE IF EXISTS pg_temp.vectorops_sync_rows
