-- delete: the records that pass {filter} (ids, where and where_document together).
DELETE FROM {table} WHERE {filter}
