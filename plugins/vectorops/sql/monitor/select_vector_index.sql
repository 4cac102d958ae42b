-- The vector index (HNSW or IVFFlat) of a live table as the catalog has it now: the registry's index first, then
-- any valid one. method: pg_am's name; halfvec: it indexes the embedding cast to halfvec; bits: it indexes
-- binary_quantize(embedding) (hnsw_bit_rerank); lists: an IVFFlat index's lists (NULL: pgvector's default).
SELECT c.relname AS index_name,
       pg_relation_size(c.oid) AS index_bytes,
       (i.indisvalid AND i.indisready) AS valid,
       a.amname AS method,
       coalesce(pg_get_expr(i.indexprs, i.indrelid), '') LIKE '%%halfvec%%' AS halfvec,
       coalesce(pg_get_expr(i.indexprs, i.indrelid), '') LIKE '%%binary_quantize%%' AS bits,
       (SELECT o.option_value::integer FROM pg_options_to_table(c.reloptions) o
        WHERE o.option_name = 'lists') AS lists
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid = %(table)s::regclass AND a.amname IN ('hnsw', 'ivfflat')
ORDER BY c.relname = %(index_name)s DESC NULLS LAST, (i.indisvalid AND i.indisready) DESC, a.amname = 'hnsw' DESC,
         c.relname
LIMIT 1
