-- query(ids=): which of the asked ids the table holds (Chroma refuses a query naming one it does not).
SELECT id FROM {table} WHERE id = ANY(%(ids)s::text[])
