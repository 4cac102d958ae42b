-- Whether a type of this name exists in this schema (types share the relations' namespace).
SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = %s AND t.typname = %s
