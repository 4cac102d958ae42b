-- add: a new id gets its record; an id that exists keeps its own (Chroma's add ignores it).
INSERT INTO {table} (id, embedding, document, metadata, uri)
VALUES (%(id)s, %(embedding)s::vector, %(document)s, %(metadata)s::jsonb, %(uri)s)
ON CONFLICT (id) DO NOTHING
