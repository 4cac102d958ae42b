-- Reads of what vectorops created (vectorops.owned_objects: its schemas and tables, while their oid is the
-- recorded one) for vectorops_reader (and so vectorops_monitor) and vectorops_maint, and MAINTAIN for
-- vectorops_maint on PostgreSQL 17+. New tables get them from the default privileges
-- (alter_default_privileges.sql); this covers tables that existed before. Only what is missing is granted, and
-- nothing on a schema or table vectorops did not create: a vector table in someone else's schema is reachable
-- by the reader roles once that schema's owner grants them USAGE.
DO $$
DECLARE
    target record;
    maintain boolean := current_setting('server_version_num')::int >= 170000;
BEGIN
    FOR target IN
        SELECT n.nspname FROM pg_namespace n
        JOIN vectorops.owned_objects o ON o.kind = 'schema' AND o.schema_name = n.nspname AND o.object_oid = n.oid
        WHERE n.nspname <> 'vectorops'
          AND NOT (has_schema_privilege('vectorops_reader', n.oid, 'USAGE')
                   AND has_schema_privilege('vectorops_maint', n.oid, 'USAGE'))
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO vectorops_reader, vectorops_maint', target.nspname);
    END LOOP;
    FOR target IN
        SELECT c.oid::regclass AS relation
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN vectorops.owned_objects o ON o.kind = 'table' AND o.schema_name = n.nspname
                                      AND o.object_name = c.relname AND o.object_oid = c.oid
        WHERE n.nspname <> 'vectorops' AND c.relkind IN ('r', 'p')
          AND NOT (has_table_privilege('vectorops_reader', c.oid, 'SELECT')
                   AND has_table_privilege('vectorops_maint', c.oid, 'SELECT')
                   AND (NOT maintain OR has_table_privilege('vectorops_maint', c.oid, 'MAINTAIN')))
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO vectorops_reader, vectorops_maint', target.relation);
        IF maintain THEN
            EXECUTE format('GRANT MAINTAIN ON %s TO vectorops_maint', target.relation);
        END IF;
    END LOOP;
END $$
