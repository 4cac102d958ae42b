-- This session's digests of a server collection's records (source) and of its live table's rows (target), for a
-- cutover's parity.
CREATE TEMP TABLE IF NOT EXISTS pg_temp.vectorops_cutover_digests (
    side text NOT NULL, id text COLLATE "C" NOT NULL, digest bytea NOT NULL)
