-- This session's list of the source's ids and their Chroma sequence numbers, at the read point.
CREATE TEMP TABLE IF NOT EXISTS pg_temp.vectorops_sync_source (id text COLLATE "C" NOT NULL, seq bigint NOT NULL)
