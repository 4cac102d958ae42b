-- update: as upsert's update of an existing record (see upsert_records.sql); an id that does not exist is ignored.
UPDATE {table} AS t SET
    embedding = coalesce(%(embedding)s::vector, t.embedding),
    document = coalesce(%(document)s, t.document),
    metadata = CASE WHEN %(metadata)s::jsonb IS NULL THEN t.metadata
                    ELSE nullif(jsonb_strip_nulls(coalesce(t.metadata, '{{}}') || %(metadata)s::jsonb), '{{}}') END,
    uri = coalesce(%(uri)s, t.uri)
WHERE t.id = %(id)s
