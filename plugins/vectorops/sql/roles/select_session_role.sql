-- Who this session logged in as, its attributes and the roles it is a member of (the restore login check).
SELECT session_user::text, current_user::text, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
       r.rolreplication,
       ARRAY(SELECT m.roleid::regrole::text FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid
             ORDER BY 1)
FROM pg_catalog.pg_roles r WHERE r.rolname = session_user
