-- The ordinary and partitioned tables of the dumped schemas, with their registry entry when they hold vectors.
-- vectorops.backups is left out: its rows describe files outside the database and are not dumped.
SELECT n.nspname AS table_schema, c.relname AS table_name, r.collection, r.distance
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN vectorops.collection_registry r ON r.table_schema = n.nspname AND r.table_name = c.relname
WHERE n.nspname = ANY(%(schemas)s)
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND NOT (n.nspname = 'vectorops' AND c.relname = 'backups')
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
