-- Whether an index belongs to a table.
SELECT 1 FROM pg_index i WHERE i.indexrelid = to_regclass(%s)
    AND i.indrelid = to_regclass(%s)
