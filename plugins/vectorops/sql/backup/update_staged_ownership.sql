-- Run as vectorops_restore on the restored copy of vectorops.owned_objects ({owned}), before the swap: the
-- records of the restored schemas (%(finals)s, staged as %(stageds)s) point at the staged objects, whose oids
-- the swap's renames keep; records of objects the backup does not hold, or of schemas it does not hold, go.
WITH map AS (
    SELECT m.final, n.oid AS nsp
    FROM unnest(%(finals)s::text[], %(stageds)s::text[]) AS m(final, staged)
    JOIN pg_catalog.pg_namespace n ON n.nspname = m.staged
),
schemas AS (
    UPDATE {owned} o SET object_oid = map.nsp FROM map
    WHERE o.kind = 'schema' AND o.schema_name = map.final AND o.object_name = ''
    RETURNING 1
),
tables AS (
    UPDATE {owned} o SET object_oid = c.oid
    FROM map JOIN pg_catalog.pg_class c ON c.relnamespace = map.nsp AND c.relkind IN ('r', 'p')
    WHERE o.kind = 'table' AND o.schema_name = map.final AND c.relname = o.object_name
    RETURNING 1
)
DELETE FROM {owned} o
WHERE NOT EXISTS (SELECT FROM map WHERE map.final = o.schema_name AND o.kind = 'schema' AND o.object_name = '')
  AND NOT EXISTS (SELECT FROM map JOIN pg_catalog.pg_class c ON c.relnamespace = map.nsp AND c.relkind IN ('r', 'p')
                  WHERE map.final = o.schema_name AND o.kind = 'table' AND c.relname = o.object_name)
