-- Live sync (docs/live-sync.md): where each live table stands against its Chroma source, and every sync run.
-- Idempotent: run by `vectorops db up` and before every migration, after create_operations_tables.sql.

-- The read point an attempt loaded from: the collection's newest Chroma sequence number when staging began
-- (local stores), or NULL for a source that has none (a server). Records written later may be loaded too:
-- re-applying a change is idempotent, so the first sync starts from here.
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS read_point bigint;
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS read_point_at timestamptz;
-- staged ids the source no longer held when their chunk was loaded or compared (deleted after the read point)
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS gone_count bigint NOT NULL DEFAULT 0;
-- source records changed after the read point when the attempt was promoted
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS changes_behind bigint;

-- migrated: promoted from a snapshot; syncing: `vectorops sync` keeps it up to date; cut over: the final sync
-- and full parity passed, syncs stop.
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS sync_state text NOT NULL DEFAULT 'migrated';
ALTER TABLE vectorops.collection_registry DROP CONSTRAINT IF EXISTS collection_registry_sync_state_check;
ALTER TABLE vectorops.collection_registry ADD CONSTRAINT collection_registry_sync_state_check
    CHECK (sync_state IN ('migrated', 'syncing', 'cut over'));
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS read_point bigint;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS read_point_at timestamptz;
-- source changes not yet in the table when last measured, and when
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS changes_behind bigint;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS lag_checked_at timestamptz;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS last_sync_id text;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS cut_over_at timestamptz;
-- the Airflow connection a server source was read through (its id, never a secret), so a scheduled sync reaches it
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS source_conn_id text;

-- One row per sync (or cutover) of one collection.
CREATE TABLE IF NOT EXISTS vectorops.sync_runs (
    sync_id       text PRIMARY KEY,
    collection    text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('sync', 'cutover')),
    status        text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    from_point    bigint,
    to_point      bigint,
    added         bigint NOT NULL DEFAULT 0,
    updated       bigint NOT NULL DEFAULT 0,
    deleted       bigint NOT NULL DEFAULT 0,
    quarantined   bigint NOT NULL DEFAULT 0,
    lag_records   bigint,
    lag_seconds   double precision,
    window_seconds double precision,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    seconds       double precision,
    error         text
);
CREATE INDEX IF NOT EXISTS sync_runs_collection_idx ON vectorops.sync_runs (collection, started_at DESC);

-- A quarantined record a later sync loaded, deleted or quarantined again: kept as history, no longer counted.
ALTER TABLE vectorops.quarantine ADD COLUMN IF NOT EXISTS cleared_at timestamptz;
ALTER TABLE vectorops.quarantine ADD COLUMN IF NOT EXISTS cleared_by text;

-- staged ids of the chunk the source no longer held when the chunk was loaded (deleted after the read point)
ALTER TABLE vectorops.migration_chunks ADD COLUMN IF NOT EXISTS gone_count bigint NOT NULL DEFAULT 0;
