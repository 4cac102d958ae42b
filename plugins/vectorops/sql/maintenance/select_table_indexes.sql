-- The indexes of one table (%(relid)s): access method, validity, size and storage options (HNSW m).
SELECT i.relname AS name, am.amname AS method, x.indisvalid AS valid, pg_relation_size(i.oid) AS bytes,
       coalesce(i.reloptions, '{}') AS options,
       (SELECT p.pid FROM pg_stat_progress_create_index p WHERE p.relid = x.indrelid LIMIT 1) AS building_pid
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am am ON am.oid = i.relam
WHERE x.indrelid = %(relid)s
ORDER BY i.relname
