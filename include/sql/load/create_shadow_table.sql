-- {table}: the shadow table of one attempt; {vector_type}: vector(d), or vector when d is unknown.
-- The primary key is added after the load (see add_primary_key.sql).
CREATE TABLE IF NOT EXISTS {table} (
    id         text NOT NULL,
    embedding  {vector_type},
    document   text,
    metadata   jsonb,
    uri        text
)
