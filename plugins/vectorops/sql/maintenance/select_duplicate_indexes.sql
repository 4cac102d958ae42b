-- The invalid indexes of one table (%(relid)s) that duplicate one of its valid indexes, with that valid twin: the
-- same access method, key columns and expressions, and predicate; for other methods than the vector ones (hnsw,
-- ivfflat) also the same operator classes, collations, options (in any order) and uniqueness. A cancelled CREATE
-- INDEX CONCURRENTLY of an index the table already has leaves one; rebuilding it would make a second copy of that
-- index (for a vector index, a second graph of the same column, whatever its opclass or m, is that waste too).
SELECT i.relname AS name, min(v.relname) AS twin
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_index y ON y.indrelid = x.indrelid AND y.indexrelid <> x.indexrelid AND y.indisvalid
JOIN pg_class v ON v.oid = y.indexrelid
WHERE x.indrelid = %(relid)s AND NOT x.indisvalid
  AND i.relam = v.relam AND x.indkey::text = y.indkey::text
  AND pg_get_expr(x.indexprs, x.indrelid) IS NOT DISTINCT FROM pg_get_expr(y.indexprs, y.indrelid)
  AND pg_get_expr(x.indpred, x.indrelid) IS NOT DISTINCT FROM pg_get_expr(y.indpred, y.indrelid)
  AND (i.relam IN (SELECT oid FROM pg_am WHERE amname IN ('hnsw', 'ivfflat'))
       OR (x.indisunique = y.indisunique AND x.indnullsnotdistinct = y.indnullsnotdistinct
           AND x.indclass::text = y.indclass::text AND x.indcollation::text = y.indcollation::text
           AND x.indoption::text = y.indoption::text
           AND (SELECT array_agg(o ORDER BY o) FROM unnest(i.reloptions) o)
               IS NOT DISTINCT FROM (SELECT array_agg(o ORDER BY o) FROM unnest(v.reloptions) o)))
GROUP BY i.relname
