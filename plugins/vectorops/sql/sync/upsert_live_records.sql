-- {table}: the live table; {batch}: this batch's rows, COPYed as a migration loads them. xmax = 0 tells an
-- inserted row from an updated one.
INSERT INTO {table} AS t (id, embedding, document, metadata, uri)
SELECT id, embedding, document, metadata, uri FROM {batch}
ON CONFLICT (id) DO UPDATE
SET embedding = EXCLUDED.embedding, document = EXCLUDED.document, metadata = EXCLUDED.metadata, uri = EXCLUDED.uri
RETURNING (xmax = 0) AS inserted
