-- {table}: the table of a collection the store creates, laid out like a migrated one (the primary key sorts
-- ids bytewise). {vector_type}: vector(d), or vector until the first write fixes the dimension.
CREATE TABLE {table} (
    id         text COLLATE "C" PRIMARY KEY,
    embedding  {vector_type},
    document   text,
    metadata   jsonb,
    uri        text
)
