-- The indexes of one table (%(relid)s): access method, validity, size, storage options (HNSW m, IVFFlat lists),
-- the indexed expression (halfvec and bit HNSW indexes are expression indexes) and whether this session may alter
-- the index (it is, or is a member of, its owner: ALTER INDEX needs that, REINDEX only MAINTAIN).
SELECT i.relname AS name, am.amname AS method, x.indisvalid AS valid, pg_relation_size(i.oid) AS bytes,
       coalesce(i.reloptions, '{}') AS options,
       (SELECT p.pid FROM pg_stat_progress_create_index p WHERE p.relid = x.indrelid LIMIT 1) AS building_pid,
       pg_get_expr(x.indexprs, x.indrelid) AS expression,
       pg_has_role(i.relowner, 'USAGE') AS owned
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am am ON am.oid = i.relam
WHERE x.indrelid = %(relid)s
ORDER BY i.relname
