-- The invalid indexes of a table (a qualified, quoted name) whose names match a LIKE pattern: what a failed
-- REINDEX CONCURRENTLY left.
SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = to_regclass(%s) AND NOT x.indisvalid AND i.relname LIKE %s
