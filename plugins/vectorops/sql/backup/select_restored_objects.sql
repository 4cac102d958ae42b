-- What %(role)s owns in the schemas %(schemas)s, to hand over one by one at the swap (never REASSIGN OWNED, which
-- would also take other restores' staging schemas): relations (not indexes, nor sequences a column owns: they
-- follow their table), functions with their argument types, standalone composite and enum types, statistics.
SELECT 'TABLE' AS kind, n.nspname, c.relname, NULL::text[] AS arg_schemas, NULL::text[] AS arg_types
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relowner = %(role)s::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_catalog.pg_depend d
                                       WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                                         AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT 'ROUTINE', n.nspname, p.proname,
       ARRAY(SELECT tn.nspname::text FROM unnest(p.proargtypes) WITH ORDINALITY a(t, i)
             JOIN pg_catalog.pg_type ty ON ty.oid = a.t JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace
             ORDER BY a.i),
       ARRAY(SELECT ty.typname::text FROM unnest(p.proargtypes) WITH ORDINALITY a(t, i)
             JOIN pg_catalog.pg_type ty ON ty.oid = a.t ORDER BY a.i)
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY(%(schemas)s) AND p.proowner = %(role)s::regrole
UNION ALL
SELECT 'TYPE', n.nspname, t.typname, NULL, NULL
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = ANY(%(schemas)s) AND t.typowner = %(role)s::regrole
  AND (t.typtype = 'e' OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c'))
UNION ALL
SELECT 'STATISTICS', n.nspname, s.stxname, NULL, NULL
FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
WHERE n.nspname = ANY(%(schemas)s) AND s.stxowner = %(role)s::regrole
