-- upsert: insert, or update as Chroma does: the vector is replaced; document and uri only when given; metadata
-- merged key by key, a JSON null removing its key, and no key left means no metadata (NULL).
INSERT INTO {table} AS t (id, embedding, document, metadata, uri)
VALUES (%(id)s, %(embedding)s::vector, %(document)s, nullif(jsonb_strip_nulls(%(metadata)s::jsonb), '{{}}'), %(uri)s)
ON CONFLICT (id) DO UPDATE SET
    embedding = EXCLUDED.embedding,
    document = coalesce(EXCLUDED.document, t.document),
    metadata = CASE WHEN %(metadata)s::jsonb IS NULL THEN t.metadata
                    ELSE nullif(jsonb_strip_nulls(coalesce(t.metadata, '{{}}') || %(metadata)s::jsonb), '{{}}') END,
    uri = coalesce(EXCLUDED.uri, t.uri)
