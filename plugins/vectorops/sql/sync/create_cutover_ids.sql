-- This session's list of the source's ids and where each sits in the HNSW files, to read them in id byte order
-- (the order parity merges the table and the source in).
CREATE TEMP TABLE IF NOT EXISTS pg_temp.vectorops_cutover_ids (id text COLLATE "C" NOT NULL, position bigint NOT NULL)
