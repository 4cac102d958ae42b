-- The tables of a source identity in the other schemas.
SELECT table_schema, table_name FROM vectorops.collection_registry
WHERE source_uri IS NOT DISTINCT FROM %(source_uri)s AND tenant = %(tenant)s
    AND database = %(database)s AND collection = %(collection)s AND table_schema <> %(table_schema)s
