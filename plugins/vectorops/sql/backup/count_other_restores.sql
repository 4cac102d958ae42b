-- How many other sessions hold a restore's advisory lock (class: the restore lock key) in this database.
SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_database d
  ON d.oid = l.database AND d.datname = current_database()
WHERE l.locktype = 'advisory' AND l.classid = %s::oid AND l.objsubid = 2
  AND l.pid <> pg_backend_pid()
