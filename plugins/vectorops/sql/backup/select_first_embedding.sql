-- The first row (by id, in byte order) of a table that has an embedding, with the embedding as text.
SELECT id, embedding::text FROM {table} WHERE embedding IS NOT NULL
ORDER BY id COLLATE "C" LIMIT 1
