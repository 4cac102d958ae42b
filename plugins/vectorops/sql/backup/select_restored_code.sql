-- Code a restored dump carries in the schemas it restored (%(schemas)s; the platform schema among them is
-- %(platform)s), which would run later as whoever writes or reads those tables: one row per object, described.
-- Allowed: the platform's two functions and its one trigger (all replaced by the platform's own definitions at
-- the swap), and expressions calling only functions of pg_catalog or of the installed extension `vector` (an
-- index on embedding::halfvec(d) or binary_quantize(embedding); the dump does not carry an extension's members)
-- that PUBLIC may execute and that are not volatile (nextval excepted). Dependencies on pinned builtins are not in
-- pg_depend, so the expressions' node trees are read: every function (FuncExpr :funcid, OpExpr /
-- ScalarArrayOpExpr :opfuncid ...) and operator they name.
WITH ns AS (
    SELECT oid, nspname FROM pg_namespace WHERE nspname = ANY(%(schemas)s)
),
allowed_functions AS (
    SELECT p.oid, p.proname FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
    WHERE ns.nspname = %(platform)s AND p.prokind = 'f'
      AND ((p.proname = 'collection_registry_default_key' AND p.pronargs = 0)
           OR (p.proname = 'drop_invalid_index' AND p.proargtypes = '25 25'::oidvector))
),
expressions AS (
    SELECT 'pg_constraint'::regclass AS classid, c.oid AS objid, 0 AS objsubid, c.conbin::text AS expr
    FROM pg_constraint c JOIN ns ON ns.oid = c.connamespace WHERE c.conbin IS NOT NULL
    UNION ALL
    SELECT 'pg_attrdef'::regclass, d.oid, 0, d.adbin::text
    FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid JOIN ns ON ns.oid = c.relnamespace
    UNION ALL
    SELECT 'pg_class'::regclass, i.indexrelid, 0, concat(i.indexprs::text, ' ', i.indpred::text)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN ns ON ns.oid = c.relnamespace
    WHERE i.indexprs IS NOT NULL OR i.indpred IS NOT NULL
    UNION ALL
    SELECT 'pg_statistic_ext'::regclass, s.oid, 0, s.stxexprs::text
    FROM pg_statistic_ext s JOIN ns ON ns.oid = s.stxnamespace WHERE s.stxexprs IS NOT NULL
    UNION ALL
    SELECT 'pg_trigger'::regclass, t.oid, 0, t.tgqual::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace
    WHERE t.tgqual IS NOT NULL
),
vector_functions AS (
    SELECT d.objid AS oid FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
    WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND x.extname = 'vector'
),
called AS (
    SELECT e.classid, e.objid, e.objsubid, m[1]::oid AS function_oid
    FROM expressions e,
         regexp_matches(e.expr, ':(?:funcid|opfuncid|hashfuncid|negfuncid|aggfnoid|winfnoid) ([0-9]+)', 'g') m
    UNION ALL
    SELECT e.classid, e.objid, e.objsubid, coalesce(o.oprcode::oid, 1)
    FROM expressions e, regexp_matches(e.expr, ':opno ([0-9]+)', 'g') m
    LEFT JOIN pg_operator o ON o.oid = m[1]::oid
    UNION ALL
    SELECT e.classid, e.objid, e.objsubid, coalesce(o.oprcode::oid, 1)
    FROM expressions e, regexp_matches(e.expr, ':opnos \(o ([0-9 ]+)\)', 'g') m,
         unnest(string_to_array(m[1], ' ')) AS x(opno)
    LEFT JOIN pg_operator o ON o.oid = x.opno::oid
),
problems AS (
    SELECT pg_describe_object('pg_proc'::regclass, p.oid, 0) AS object, 'is code (a function, procedure or aggregate)'
           AS problem
    FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.oid NOT IN (SELECT oid FROM allowed_functions)
    UNION ALL
    SELECT pg_describe_object('pg_trigger'::regclass, t.oid, 0), 'is a trigger'
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace
    WHERE NOT t.tgisinternal
      AND NOT (t.tgname = 'collection_registry_default_key' AND c.relname = 'collection_registry'
               AND ns.nspname = %(platform)s
               AND t.tgfoid IN (SELECT oid FROM allowed_functions WHERE proname = 'collection_registry_default_key'))
    UNION ALL
    SELECT pg_describe_object('pg_rewrite'::regclass, r.oid, 0), 'is a rule'
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN ns ON ns.oid = c.relnamespace
    WHERE NOT (r.rulename = '_RETURN' AND c.relkind IN ('v', 'm'))
    UNION ALL
    SELECT pg_describe_object('pg_policy'::regclass, p.oid, 0), 'is a row-level security policy'
    FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN ns ON ns.oid = c.relnamespace
    UNION ALL
    SELECT pg_describe_object('pg_class'::regclass, c.oid, 0), 'is a view, materialized view or foreign table'
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('v', 'm', 'f')
    UNION ALL
    SELECT pg_describe_object('pg_type'::regclass, t.oid, 0), 'is a domain, range or base type'
    FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
    WHERE t.typtype IN ('d', 'r', 'm', 'p') OR (t.typtype = 'b' AND t.typelem = 0)
    UNION ALL
    SELECT pg_describe_object('pg_operator'::regclass, o.oid, 0), 'is an operator'
    FROM pg_operator o JOIN ns ON ns.oid = o.oprnamespace
    UNION ALL
    SELECT pg_describe_object('pg_cast'::regclass, k.oid, 0), 'is a cast'
    FROM pg_cast k
    WHERE EXISTS (SELECT FROM pg_type t JOIN ns ON ns.oid = t.typnamespace WHERE t.oid IN (k.castsource, k.casttarget))
       OR EXISTS (SELECT FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.oid = k.castfunc)
    UNION ALL
    SELECT pg_describe_object('pg_event_trigger'::regclass, v.oid, 0), 'is an event trigger'
    FROM pg_event_trigger v WHERE v.evtowner = current_user::regrole
       OR EXISTS (SELECT FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.oid = v.evtfoid)
    UNION ALL
    SELECT DISTINCT pg_describe_object(k.classid, k.objid, k.objsubid),
           'calls ' || coalesce(p.oid::regprocedure::text, 'a function that does not exist (' || k.function_oid || ')')
           || CASE WHEN p.oid IS NULL THEN ''
                   WHEN p.pronamespace <> 'pg_catalog'::regnamespace AND p.oid NOT IN (SELECT oid FROM vector_functions)
                       THEN ', which is not in pg_catalog nor of the extension vector'
                   WHEN NOT has_function_privilege('public', p.oid, 'EXECUTE') THEN ', which PUBLIC may not execute'
                   ELSE ', which is volatile' END
    FROM called k LEFT JOIN pg_proc p ON p.oid = k.function_oid
    WHERE k.function_oid <> 0
      AND (p.oid IS NULL
           OR (p.pronamespace <> 'pg_catalog'::regnamespace AND p.oid NOT IN (SELECT oid FROM vector_functions))
           OR NOT has_function_privilege('public', p.oid, 'EXECUTE')
           OR (p.provolatile = 'v' AND p.oid <> 'pg_catalog.nextval(pg_catalog.regclass)'::pg_catalog.regprocedure))
)
SELECT object, problem FROM problems ORDER BY object, problem
