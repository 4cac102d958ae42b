-- The least-privilege roles vectorops works as (SECURITY.md; vectorops/db_roles.py). Idempotent: run by
-- `vectorops db up` as a user that may create roles. Their passwords are set afterwards, as SCRAM verifiers
-- computed by the client, so no password ever reaches the server (or its statistics) in clear text.
DO $$
DECLARE
    role_name text;
    superuser boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
    FOREACH role_name IN ARRAY ARRAY['vectorops_etl', 'vectorops_maint', 'vectorops_monitor', 'vectorops_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', role_name);
        END IF;
    END LOOP;
    -- vectorops_restore, the role pg_restore logs in as, is made by create_restore_role.sql before this
    IF superuser THEN
        -- index builds of every role in pg_stat_progress_create_index, so maintenance leaves them alone
        GRANT pg_read_all_stats TO vectorops_maint;
    ELSE
        -- a non-superuser (CREATEROLE) bootstrap user hands its objects to vectorops_etl and sets its defaults,
        -- and hands what vectorops_restore restored to vectorops_etl (REASSIGN OWNED needs both)
        EXECUTE format('GRANT vectorops_etl, vectorops_restore TO %I', current_user);
    END IF;
END $$;
-- the scratch databases of safe restores (backup/scratch_database.py), cloned from vectorops_restore_template
ALTER ROLE vectorops_maint CREATEDB;
-- and the sessions vectorops_restore leaves in them ended (DROP DATABASE ... WITH (FORCE))
GRANT vectorops_restore TO vectorops_maint;
GRANT vectorops_reader TO vectorops_monitor;
