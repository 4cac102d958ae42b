-- The replication slots vectorops' WAL receiver streams an external server's WAL through (backup/pitr/
-- replication_slot): whether a receiver is on it now, and the WAL the server keeps for it (every role may read these).
SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained_bytes
FROM pg_replication_slots
WHERE slot_name LIKE 'vectorops\_pitr\_%' AND slot_type = 'physical'
ORDER BY slot_name
