-- delete(limit=): the first `limit` records that pass {filter} in id order (Chroma takes its insertion order),
-- in one statement; their ids come back for the dual backend to delete the same ones from Chroma.
DELETE FROM {table}
WHERE id IN (SELECT id FROM {table} WHERE {filter} ORDER BY id LIMIT %(limit)s)
RETURNING id
