-- The planner's row estimate of one live table: -1 (PostgreSQL 14+) when it was never vacuumed or analysed.
SELECT c.reltuples::bigint FROM pg_class c WHERE c.oid = to_regclass(format('%%I.%%I', %(schema)s::text, %(table)s::text))
