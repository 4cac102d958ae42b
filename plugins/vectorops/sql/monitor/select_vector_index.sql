-- The HNSW index of a live table as the catalog has it now: the registry's index first, then any valid one.
-- halfvec: whether it indexes the embedding cast to halfvec (the >2,000-dimension form).
SELECT c.relname AS index_name,
       pg_relation_size(c.oid) AS index_bytes,
       (i.indisvalid AND i.indisready) AS valid,
       pg_get_indexdef(c.oid) LIKE '%%halfvec%%' AS halfvec
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid = %(table)s::regclass AND a.amname = 'hnsw'
ORDER BY c.relname = %(index_name)s DESC NULLS LAST, (i.indisvalid AND i.indisready) DESC, c.relname
LIMIT 1
