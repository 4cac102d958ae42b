-- {table}: fix the dimension of a store-created table at its first write, as Chroma does ({dimensions}: d).
ALTER TABLE {table} ALTER COLUMN embedding TYPE vector({dimensions})
