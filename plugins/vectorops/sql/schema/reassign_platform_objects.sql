-- vectorops_etl owns the vectorops schema and what vectorops created (vectorops.owned_objects: the schemas and
-- tables it recorded creating, while their oid is the recorded one), so that migrations may create, rename and
-- drop there (promotion renames live tables). Nothing else is touched: not a schema vectorops merely migrated
-- into, not a table that happens to carry a target name, whatever the registry or a failed attempt says. Of
-- those, only what the bootstrap user itself owns is handed over (what an older version, or the migration
-- steps run directly, created as that user). Sequences of a table's columns follow their table. A table in use
-- (ALTER ... OWNER waits for an exclusive lock) is left for the next bootstrap after a short lock_timeout, with
-- a warning, rather than blocking the platform.
DO $$
DECLARE
    target record;
    targets text[][];
    i integer;
    previous_timeout text := current_setting('lock_timeout');
BEGIN
    PERFORM set_config('lock_timeout', '1s', true);
    FOR target IN
        SELECT n.nspname
        FROM pg_namespace n
        WHERE (n.nspname = 'vectorops'
               OR EXISTS (SELECT 1 FROM vectorops.owned_objects o
                          WHERE o.kind = 'schema' AND o.schema_name = n.nspname AND o.object_oid = n.oid))
          AND n.nspowner = current_user::regrole
    LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO vectorops_etl', target.nspname);
    END LOOP;
    -- collected first: the loop alters vectorops.owned_objects itself, which an open cursor on it would forbid
    SELECT array_agg(ARRAY[t.kind, t.relation]) INTO targets FROM (
        SELECT c.oid::regclass::text AS relation,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                              WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relowner = current_user::regrole
          AND ((n.nspname = 'vectorops' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                                       AND d.objid = c.oid AND d.deptype IN ('a', 'i'))))
               OR (c.relkind IN ('r', 'p')
                   AND EXISTS (SELECT 1 FROM vectorops.owned_objects o
                               WHERE o.kind = 'table' AND o.schema_name = n.nspname AND o.object_name = c.relname
                                 AND o.object_oid = c.oid)))) t;
    FOR i IN 1 .. coalesce(array_length(targets, 1), 0) LOOP
        BEGIN
            EXECUTE format('ALTER %s %s OWNER TO vectorops_etl', targets[i][1], targets[i][2]);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING '% is in use: it is handed to vectorops_etl by the next `vectorops db up`', targets[i][2];
        END;
    END LOOP;
    PERFORM set_config('lock_timeout', previous_timeout, true);
END $$
