-- {table}: the shadow table of one attempt; {vector_type}: vector(d), or vector when d is unknown.
-- The primary key is added after the load (see add_primary_key.sql). id sorts bytewise (COLLATE "C"), the
-- order ids are staged and compared in, so the primary key serves the parity pass and keyset paging.
-- UNLOGGED while it loads (no WAL per row); finalize makes it logged before it is indexed (unlogged_shadow.py).
CREATE UNLOGGED TABLE {table} (
    id         text COLLATE "C" NOT NULL,
    embedding  {vector_type},
    document   text,
    metadata   jsonb,
    uri        text
)
