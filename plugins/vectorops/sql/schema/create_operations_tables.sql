-- What the scheduled DAGs record: maintenance actions, index health, backups and search probes.
-- Idempotent: run by `vectorops db up` and before every migration, after create_registry.sql.

-- One row per maintenance action (planned and run, or failed), with sizes before and after.
CREATE TABLE IF NOT EXISTS vectorops.maintenance_log (
    log_id             bigserial PRIMARY KEY,
    run_id             text,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    table_schema       text NOT NULL,
    table_name         text NOT NULL,
    index_name         text,
    action             text NOT NULL CHECK (action IN ('drop_index', 'reindex', 'vacuum_analyze', 'analyze')),
    reason             text NOT NULL,
    status             text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    duration_s         double precision,
    table_bytes_before bigint,
    table_bytes_after  bigint,
    index_bytes_before bigint,
    index_bytes_after  bigint,
    details            jsonb,
    error              text
);
CREATE INDEX IF NOT EXISTS maintenance_log_table_idx
    ON vectorops.maintenance_log (table_schema, table_name, started_at DESC);

-- The state of each live table's vector index: what it was built on, and requests to rebuild it.
-- The search monitor writes its advice (advised_ef_search: a value of search_knob, the knob of the index's kind:
-- hnsw.ef_search, ivfflat.probes or re-rank depth) and rebuild requests; maintenance clears a request when it
-- rebuilds.
CREATE TABLE IF NOT EXISTS vectorops.index_health (
    table_schema          text NOT NULL,
    table_name            text NOT NULL,
    index_name            text,
    built_at              timestamptz,
    built_rows            bigint,
    built_changes         bigint,  -- n_tup_ins + n_tup_upd + n_tup_del when first seen after the build (NULL: not yet)
    built_dead_rows       bigint,  -- n_dead_tup then: dead tuples the index does not hold
    rebuild_reason        text,
    rebuild_requested_at  timestamptz,
    advised_ef_search     integer,
    advised_recall        double precision,
    advised_at            timestamptz,
    PRIMARY KEY (table_schema, table_name)
);
ALTER TABLE vectorops.index_health ADD COLUMN IF NOT EXISTS built_dead_rows bigint;
ALTER TABLE vectorops.index_health ADD COLUMN IF NOT EXISTS search_knob text;

-- One row per backup. Only 'verified' backups count toward retention and freshness.
CREATE TABLE IF NOT EXISTS vectorops.backups (
    backup_id        text PRIMARY KEY,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    status           text NOT NULL CHECK (status IN ('running', 'verifying', 'verified', 'failed', 'expired')),
    path             text NOT NULL,
    dump_bytes       bigint,
    dump_sha256      text,
    chroma_bytes     bigint,
    chroma_sha256    text,
    manifest_sha256  text,
    tables           integer,
    total_rows       bigint,
    verified_at      timestamptz,
    verify_seconds   double precision,
    error            text,
    details          jsonb
);
CREATE INDEX IF NOT EXISTS backups_status_idx ON vectorops.backups (status, started_at DESC);

-- One row per recovery drill (backup/pitr/drill): a scratch server recovered from the base backups and the WAL
-- archive to the WAL position of the newest verified backup's snapshot, compared with that backup's manifest.
CREATE TABLE IF NOT EXISTS vectorops.recovery_drills (
    drill_id             text PRIMARY KEY,
    started_at           timestamptz NOT NULL,
    finished_at          timestamptz NOT NULL DEFAULT now(),
    status               text NOT NULL CHECK (status IN ('passed', 'failed', 'inconclusive')),
    backup_id            text,
    target_lsn           text,
    target_at            timestamptz,
    base_backups         text[],
    recovery_seconds     double precision,
    scratch_port         integer,
    tables               integer,
    total_rows           bigint,
    archive_lag_seconds  double precision,
    error                text,
    details              jsonb
);
CREATE INDEX IF NOT EXISTS recovery_drills_status_idx ON vectorops.recovery_drills (status, finished_at DESC);

-- The fixed probe set of each table: query vectors sampled from it with a seed, kept so runs compare.
CREATE TABLE IF NOT EXISTS vectorops.search_probes (
    table_schema  text NOT NULL,
    table_name    text NOT NULL,
    probe_no      integer NOT NULL,
    record_id     text NOT NULL,
    embedding     vector NOT NULL,
    attempt_id    text,      -- the migration attempt the probes were sampled from
    seed          integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_schema, table_name, probe_no)
);

-- One row per table per monitor run. Latencies are client-side (execute + fetch) over the probe set;
-- recall is against exact search with the index off, the probe's own record left out of both.
CREATE TABLE IF NOT EXISTS vectorops.search_metrics (
    metric_id              bigserial PRIMARY KEY,
    measured_at            timestamptz NOT NULL DEFAULT now(),
    run_id                 text,
    collection             text NOT NULL,
    table_schema           text NOT NULL,
    table_name             text NOT NULL,
    index_name             text,
    index_used             boolean,  -- EXPLAIN showed the probe query going through index_name
    row_count              bigint NOT NULL,
    table_bytes            bigint,
    index_bytes            bigint,
    probes                 integer NOT NULL,
    ef_search              integer,  -- the value of search_knob probed at
    p50_ms                 double precision,
    p95_ms                 double precision,
    p99_ms                 double precision,
    recall_at_10           double precision,
    filter                 jsonb,
    filtered_recall_at_10  double precision,
    filtered_p95_ms        double precision,
    advised_ef_search      integer,
    advised_recall         double precision,
    breaches               jsonb NOT NULL DEFAULT '[]',
    details                jsonb,    -- plan, filter selectivity, the knob's ladder, why a value is NULL
    during_index_build     boolean NOT NULL DEFAULT false  -- an index build ran on the server: not judged
);
-- Columns that came after the table's first version; idempotent for databases created by it.
ALTER TABLE vectorops.search_metrics ADD COLUMN IF NOT EXISTS index_used boolean;
ALTER TABLE vectorops.search_metrics ADD COLUMN IF NOT EXISTS details jsonb;
ALTER TABLE vectorops.search_metrics ADD COLUMN IF NOT EXISTS during_index_build boolean NOT NULL DEFAULT false;
-- the knob ef_search and advised_ef_search are values of: hnsw.ef_search, ivfflat.probes or re-rank depth (issue 23)
ALTER TABLE vectorops.search_metrics ADD COLUMN IF NOT EXISTS search_knob text;
CREATE INDEX IF NOT EXISTS search_metrics_collection_idx
    ON vectorops.search_metrics (collection, measured_at DESC);
