-- The role pg_restore logs in as (backup/verify.py, backup/restore.py): what a dump runs, it runs without
-- privilege. Idempotent; run by `vectorops db up` before create_roles.sql, and on the scratch server a backup is
-- verified on, so that both have it alike.
DO $$
DECLARE
    granted text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vectorops_restore') THEN
        CREATE ROLE vectorops_restore LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
    END IF;
    ALTER ROLE vectorops_restore NOCREATEDB NOCREATEROLE NOINHERIT;
    -- a member of no other role, so a dump cannot SET ROLE its way to one
    FOR granted IN SELECT m.roleid::regrole::text FROM pg_auth_members m
                   WHERE m.member = 'vectorops_restore'::regrole LOOP
        EXECUTE format('REVOKE %s FROM vectorops_restore', granted);
    END LOOP;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER ROLE vectorops_restore NOSUPERUSER NOREPLICATION NOBYPASSRLS;
    END IF;
END $$;
