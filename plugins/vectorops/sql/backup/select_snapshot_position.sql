-- The WAL insert position and the transaction's snapshot, read in the backup's snapshot transaction (NULLs on a
-- server in recovery, whose WAL position is not its own).
SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn()::text END AS wal_lsn,
       pg_current_snapshot()::text AS snapshot_xids
