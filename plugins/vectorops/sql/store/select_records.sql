-- get: matching records by id (bytewise, the primary key's order), a page at a time. {columns}: the four
-- payload columns, NULL for those not asked for. {filter}: the translated where / where_document / ids.
SELECT id, {columns}
FROM {table}
WHERE {filter}
ORDER BY id
LIMIT %(limit)s OFFSET %(offset)s
