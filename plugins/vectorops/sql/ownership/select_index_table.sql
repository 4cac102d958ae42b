-- The table an index (given as a qualified, quoted name) belongs to.
SELECT t.relname FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid
WHERE x.indexrelid = to_regclass(%s)
