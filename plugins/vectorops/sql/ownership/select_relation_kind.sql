-- The relkind of the relation (table, view, index, sequence ...) of this name in this schema, if any.
SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
