-- The invalid indexes of one table (%(relid)s) that duplicate one of its valid indexes, with that valid twin: the
-- same access method, key columns and expressions, operator classes, collations, options (in any order),
-- uniqueness and predicate. A cancelled CREATE INDEX CONCURRENTLY of an index the table already has leaves one;
-- rebuilding it would make a second copy of that index.
SELECT i.relname AS name, min(v.relname) AS twin
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_index y ON y.indrelid = x.indrelid AND y.indexrelid <> x.indexrelid AND y.indisvalid
JOIN pg_class v ON v.oid = y.indexrelid
WHERE x.indrelid = %(relid)s AND NOT x.indisvalid
  AND i.relam = v.relam AND x.indisunique = y.indisunique AND x.indnullsnotdistinct = y.indnullsnotdistinct
  AND x.indkey::text = y.indkey::text AND x.indclass::text = y.indclass::text
  AND x.indcollation::text = y.indcollation::text AND x.indoption::text = y.indoption::text
  AND pg_get_expr(x.indexprs, x.indrelid) IS NOT DISTINCT FROM pg_get_expr(y.indexprs, y.indrelid)
  AND pg_get_expr(x.indpred, x.indrelid) IS NOT DISTINCT FROM pg_get_expr(y.indpred, y.indrelid)
  AND (SELECT array_agg(o ORDER BY o) FROM unnest(i.reloptions) o)
      IS NOT DISTINCT FROM (SELECT array_agg(o ORDER BY o) FROM unnest(v.reloptions) o)
GROUP BY i.relname
