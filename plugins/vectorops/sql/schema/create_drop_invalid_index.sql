-- DROP INDEX is for the table's owner only, and MAINTAIN (REINDEX, VACUUM, ANALYZE) does not include it. This
-- function lets vectorops_maint drop what interrupted index builds leave behind, and nothing else: an INVALID index
-- that is either a <index>_ccnew[N] / _ccold[N] leftover of REINDEX CONCURRENTLY on a registry table, or any
-- invalid index of a registry table's <table>__prev (the table the last promotion replaced, which nothing queries),
-- in both cases of a table vectorops created.
-- It runs as its owner, vectorops_etl, and takes the table's exclusive lock briefly (a plain DROP INDEX:
-- CONCURRENTLY cannot run in a function), within the caller's lock_timeout. A missing index is not an error.
CREATE OR REPLACE FUNCTION vectorops.drop_invalid_index(index_schema text, index_name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    eligible boolean;
BEGIN
    SELECT NOT x.indisvalid AND EXISTS (
               SELECT FROM vectorops.collection_registry r
               WHERE r.table_schema = n.nspname
                 AND ((r.table_name = t.relname AND (i.relname ~ '_cc(new|old)[0-9]*$'
                          -- or, not the registry's own index, a duplicate of a valid index of the table: what a
                          -- cancelled CREATE INDEX CONCURRENTLY leaves (maintenance/select_duplicate_indexes.sql)
                          OR (i.relname IS DISTINCT FROM r.index_name AND EXISTS (
                              SELECT FROM pg_index y JOIN pg_class v ON v.oid = y.indexrelid
                              WHERE y.indrelid = x.indrelid AND y.indexrelid <> x.indexrelid AND y.indisvalid
                                AND v.relam = i.relam AND y.indkey::text = x.indkey::text
                                AND pg_get_expr(y.indexprs, y.indrelid) IS NOT DISTINCT FROM
                                    pg_get_expr(x.indexprs, x.indrelid)
                                AND pg_get_expr(y.indpred, y.indrelid) IS NOT DISTINCT FROM
                                    pg_get_expr(x.indpred, x.indrelid)
                                -- a vector index of the same column whatever its opclass or options; else exact
                                AND (i.relam IN (SELECT oid FROM pg_am WHERE amname IN ('hnsw', 'ivfflat'))
                                     OR (y.indisunique = x.indisunique
                                         AND y.indnullsnotdistinct = x.indnullsnotdistinct
                                         AND y.indclass::text = x.indclass::text
                                         AND y.indcollation::text = x.indcollation::text
                                         AND y.indoption::text = x.indoption::text
                                         AND (SELECT array_agg(o ORDER BY o) FROM unnest(v.reloptions) o)
                                             IS NOT DISTINCT FROM
                                             (SELECT array_agg(o ORDER BY o) FROM unnest(i.reloptions) o)))))))
                      OR r.table_name || '__prev' = t.relname))
           -- and only on a table vectorops created (vectorops.owned_objects, by oid), whatever its name
           AND EXISTS (SELECT FROM vectorops.owned_objects o
                       WHERE o.kind = 'table' AND o.schema_name = n.nspname AND o.object_name = t.relname
                         AND o.object_oid = t.oid)
    INTO eligible
    FROM pg_class i
    JOIN pg_namespace n ON n.oid = i.relnamespace
    JOIN pg_index x ON x.indexrelid = i.oid
    JOIN pg_class t ON t.oid = x.indrelid
    WHERE n.nspname = index_schema AND i.relname = index_name;
    IF eligible IS NULL THEN
        RETURN false;
    END IF;
    IF NOT eligible THEN
        RAISE EXCEPTION 'index %.% is neither an invalid leftover of an interrupted build nor an invalid duplicate on a registry table',
            index_schema, index_name USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('DROP INDEX %I.%I', index_schema, index_name);
    RETURN true;
END $$;
ALTER FUNCTION vectorops.drop_invalid_index(text, text) OWNER TO vectorops_etl;
REVOKE ALL ON FUNCTION vectorops.drop_invalid_index(text, text) FROM PUBLIC;
