-- The columns of a table, in order, with their types as PostgreSQL writes them (vector(384), jsonb, text).
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a
 WHERE a.attrelid = (quote_ident(%(schema)s) || '.' || quote_ident(%(table)s))::regclass
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY a.attnum
