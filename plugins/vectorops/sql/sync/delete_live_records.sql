-- {table}: the live table.
DELETE FROM {table} WHERE id = ANY(%s) RETURNING id
