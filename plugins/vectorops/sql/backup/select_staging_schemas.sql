-- Staging schemas of restores (<schema>__restoring_<8 hex token>, owned by %(role)s), with their token and
-- the note the restore left on them (whether it lent CONNECT on the database).
SELECT n.nspname, substring(n.nspname FROM '__restoring_([0-9a-f]{8})$') AS token,
       coalesce(obj_description(n.oid, 'pg_namespace'), '') AS note
FROM pg_namespace n
WHERE n.nspowner = %(role)s::regrole AND n.nspname ~ '__restoring_[0-9a-f]{8}$'
ORDER BY 1
