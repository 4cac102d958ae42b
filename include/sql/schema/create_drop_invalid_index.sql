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
                 AND ((r.table_name = t.relname AND i.relname ~ '_cc(new|old)[0-9]*$')
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
        RAISE EXCEPTION 'index %.% is not an invalid leftover of an interrupted build on a registry table',
            index_schema, index_name USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('DROP INDEX %I.%I', index_schema, index_name);
    RETURN true;
END $$;
ALTER FUNCTION vectorops.drop_invalid_index(text, text) OWNER TO vectorops_etl;
REVOKE ALL ON FUNCTION vectorops.drop_invalid_index(text, text) FROM PUBLIC;
