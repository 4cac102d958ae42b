-- Index builds in progress anywhere on the server (CREATE INDEX or REINDEX, concurrently or not): they take the
-- cores, memory and I/O the probes are timed on. Without pg_read_all_stats, a build of another role shows its pid
-- and database only (relation, command and phase are NULL); relations are named in this database only.
SELECT p.pid, p.datname AS database, p.command, p.phase,
       CASE WHEN p.datname = current_database() THEN p.relid::regclass::text END AS table_name,
       CASE WHEN p.datname = current_database() THEN nullif(p.index_relid, 0)::regclass::text END AS index_name,
       p.relid IS NOT NULL AND p.relid = to_regclass(%(table)s) AND p.datname = current_database() AS on_this_table
FROM pg_stat_progress_create_index p
WHERE p.pid <> pg_backend_pid()
ORDER BY p.pid
