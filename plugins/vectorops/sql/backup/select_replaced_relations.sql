-- The tables, views, materialized views and foreign tables of the given schemas, oldest first (locked in this
-- order before the swap).
SELECT n.nspname, c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.oid
