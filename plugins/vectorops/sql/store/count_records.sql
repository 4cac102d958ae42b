-- count: the records of a collection.
SELECT count(*) FROM {table}
