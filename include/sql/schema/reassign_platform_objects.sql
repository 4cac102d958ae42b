-- vectorops_etl owns the vectorops schema and every vector schema (`vectors`, those in the registry and those
-- migrations target), with what is in them, so that migrations may create, rename and drop there (promotion
-- renames live tables). Only what the bootstrap user itself owns is handed over (what an older version, or the
-- migration steps run directly, created as that user): nobody else's schema or table, whatever the registry says.
-- Sequences of a table's columns follow their table. A table in use (ALTER ... OWNER waits for an exclusive lock)
-- is left for the next bootstrap after a short lock_timeout, with a warning, rather than blocking the platform.
DO $$
DECLARE
    target record;
    previous_timeout text := current_setting('lock_timeout');
BEGIN
    PERFORM set_config('lock_timeout', '1s', true);
    FOR target IN
        SELECT n.nspname
        FROM pg_namespace n
        WHERE (n.nspname IN ('vectorops', 'vectors')
               OR n.nspname IN (SELECT r.table_schema FROM vectorops.collection_registry r)
               OR n.nspname IN (SELECT m.target_schema FROM vectorops.migration_runs m))
          AND n.nspname NOT IN ('public', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
          AND n.nspowner = current_user::regrole
    LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO vectorops_etl', target.nspname);
    END LOOP;
    FOR target IN
        SELECT c.oid::regclass AS relation,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                              WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspowner = 'vectorops_etl'::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner = current_user::regrole
          AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                                 AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        BEGIN
            EXECUTE format('ALTER %s %s OWNER TO vectorops_etl', target.kind, target.relation);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING '% is in use: it is handed to vectorops_etl by the next `vectorops db up`', target.relation;
        END;
    END LOOP;
    PERFORM set_config('lock_timeout', previous_timeout, true);
END $$
