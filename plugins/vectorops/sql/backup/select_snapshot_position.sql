-- The backup's snapshot, exported for pg_dump, with the WAL insert position and the transaction's snapshot, all in
-- the transaction's first statement: the snapshot is taken as it starts, so only a commit in the microseconds
-- before the position is read falls between them (the drill calls that inconclusive). NULL positions on a server
-- in recovery, whose WAL position is not its own.
SELECT pg_export_snapshot() AS snapshot,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn()::text END AS wal_lsn,
       pg_current_snapshot()::text AS snapshot_xids
