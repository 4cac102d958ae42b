-- Objects outside the schemas %(schemas)s (and outside %(staging)s) that depend on an object inside them: what
-- DROP SCHEMA ... CASCADE would silently drop with them (a view over a vector table, a column typed with a vector
-- table's row type, an extension created in the schema ...). One row per dependent object, described.
WITH located AS (
    SELECT 'pg_namespace'::regclass AS classid, n.oid AS objid, n.oid AS nsp FROM pg_namespace n
    UNION ALL SELECT 'pg_class'::regclass, c.oid, c.relnamespace FROM pg_class c
    UNION ALL SELECT 'pg_type'::regclass, t.oid, t.typnamespace FROM pg_type t
    UNION ALL SELECT 'pg_proc'::regclass, p.oid, p.pronamespace FROM pg_proc p
    UNION ALL SELECT 'pg_constraint'::regclass, k.oid, k.connamespace FROM pg_constraint k
    UNION ALL SELECT 'pg_operator'::regclass, o.oid, o.oprnamespace FROM pg_operator o
    UNION ALL SELECT 'pg_opclass'::regclass, o.oid, o.opcnamespace FROM pg_opclass o
    UNION ALL SELECT 'pg_opfamily'::regclass, o.oid, o.opfnamespace FROM pg_opfamily o
    UNION ALL SELECT 'pg_collation'::regclass, o.oid, o.collnamespace FROM pg_collation o
    UNION ALL SELECT 'pg_conversion'::regclass, o.oid, o.connamespace FROM pg_conversion o
    UNION ALL SELECT 'pg_statistic_ext'::regclass, s.oid, s.stxnamespace FROM pg_statistic_ext s
    UNION ALL SELECT 'pg_ts_config'::regclass, o.oid, o.cfgnamespace FROM pg_ts_config o
    UNION ALL SELECT 'pg_ts_dict'::regclass, o.oid, o.dictnamespace FROM pg_ts_dict o
    UNION ALL SELECT 'pg_rewrite'::regclass, r.oid, c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
    UNION ALL SELECT 'pg_trigger'::regclass, t.oid, c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    UNION ALL SELECT 'pg_attrdef'::regclass, d.oid, c.relnamespace FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
    UNION ALL SELECT 'pg_policy'::regclass, p.oid, c.relnamespace FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
    UNION ALL SELECT 'pg_default_acl'::regclass, a.oid, a.defaclnamespace FROM pg_default_acl a
),
inside AS (
    SELECT oid FROM pg_namespace WHERE nspname = ANY(%(schemas)s)
),
kept AS (
    SELECT oid FROM pg_namespace WHERE nspname = ANY(%(schemas)s) OR nspname = ANY(%(staging)s)
)
SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid) AS dependent,
       pg_describe_object(d.refclassid, d.refobjid, 0) AS depends_on
FROM pg_depend d
JOIN located r ON r.classid = d.refclassid AND r.objid = d.refobjid AND r.nsp IN (SELECT oid FROM inside)
LEFT JOIN located o ON o.classid = d.classid AND o.objid = d.objid
WHERE d.deptype IN ('n', 'a') AND (o.nsp IS NULL OR o.nsp NOT IN (SELECT oid FROM kept))
ORDER BY 1, 2
