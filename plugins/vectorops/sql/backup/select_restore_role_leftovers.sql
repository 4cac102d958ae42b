-- After the swap's hand-over: whatever %(role)s still owns in the schemas %(schemas)s (or the schemas
-- themselves), from the shared dependency record, described. Must be nothing.
SELECT pg_catalog.pg_describe_object(s.classid, s.objid, s.objsubid)
FROM pg_catalog.pg_shdepend s
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
  AND s.refclassid = 'pg_catalog.pg_authid'::regclass AND s.refobjid = %(role)s::regrole AND s.deptype = 'o'
  AND coalesce((pg_catalog.pg_identify_object(s.classid, s.objid, s.objsubid)).schema,
               CASE WHEN s.classid = 'pg_catalog.pg_namespace'::regclass
                    THEN (SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = s.objid) END) = ANY(%(schemas)s)
ORDER BY 1
