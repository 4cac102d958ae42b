-- Exact row count of one live table ({table} is composed with psycopg.sql.Identifier).
SELECT count(*) FROM {table}
