-- {table}: the live table. This session's rows of one batch, shaped like the live table (no key, no index):
-- they are COPYed as a migration loads them, then upserted into the live table at once.
CREATE TEMP TABLE pg_temp.vectorops_sync_rows (LIKE {table})
