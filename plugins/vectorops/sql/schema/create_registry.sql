-- The platform tables. Idempotent: run by `vectorops db up` and before every migration.
CREATE SCHEMA IF NOT EXISTS vectorops;

CREATE TABLE IF NOT EXISTS vectorops.collection_registry (
    collection            text PRIMARY KEY,
    table_schema          text NOT NULL,
    table_name            text NOT NULL,
    dimensions            integer,
    distance              text NOT NULL CHECK (distance IN ('l2', 'cosine', 'ip')),
    embedding_model       text,
    source_count          bigint NOT NULL,
    loaded_count          bigint NOT NULL,
    quarantined_count     bigint NOT NULL,
    migrated_at           timestamptz NOT NULL,
    index_name            text,
    index_method          text,
    hnsw_m                integer,
    hnsw_ef_construction  integer,
    hnsw_ef_search        integer,
    source_uri            text,
    source_collection_id  text,
    last_run_id           text,
    last_attempt_id       text,
    rows_per_s            double precision,
    UNIQUE (table_schema, table_name)
);

CREATE TABLE IF NOT EXISTS vectorops.migration_runs (
    attempt_id          text PRIMARY KEY,
    run_id              text NOT NULL,
    collection          text NOT NULL,
    status              text NOT NULL CHECK (status IN ('scanning', 'loading', 'promoted', 'failed', 'superseded')),
    target_schema       text NOT NULL,
    table_name          text NOT NULL,
    shadow_table        text NOT NULL,
    source_uri          text,
    source_fingerprint  text,
    source_count        bigint,
    loaded_count        bigint NOT NULL DEFAULT 0,
    quarantined_count   bigint NOT NULL DEFAULT 0,
    dimensions          integer,
    distance            text,
    chunks              integer,
    owner_token         text,
    started_at          timestamptz NOT NULL DEFAULT now(),
    heartbeat_at        timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    load_seconds        double precision NOT NULL DEFAULT 0,
    index_seconds       double precision,
    rows_per_s          double precision,
    error               text
);
CREATE INDEX IF NOT EXISTS migration_runs_collection_idx ON vectorops.migration_runs (collection, started_at DESC);

-- Which attempt may write a collection now. One row per collection, removed at promotion.
CREATE TABLE IF NOT EXISTS vectorops.collection_claims (
    collection  text PRIMARY KEY,
    attempt_id  text NOT NULL REFERENCES vectorops.migration_runs ON DELETE CASCADE,
    run_id      text NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now()
);

-- Source ids of an attempt, as UTF-8 bytes (bytea holds what text cannot, and sorts bytewise).
CREATE TABLE IF NOT EXISTS vectorops.migration_source_ids (
    attempt_id  text NOT NULL,
    id          bytea NOT NULL,
    PRIMARY KEY (attempt_id, id)
);

CREATE TABLE IF NOT EXISTS vectorops.migration_chunks (
    attempt_id         text NOT NULL REFERENCES vectorops.migration_runs ON DELETE CASCADE,
    chunk_no           integer NOT NULL,
    first_id           bytea NOT NULL,
    last_id            bytea NOT NULL,
    row_count          bigint NOT NULL,
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    loaded_count       bigint,
    quarantined_count  bigint,
    seconds            double precision,
    done_at            timestamptz,
    PRIMARY KEY (attempt_id, chunk_no)
);

CREATE TABLE IF NOT EXISTS vectorops.quarantine (
    quarantine_id   bigserial PRIMARY KEY,
    collection      text NOT NULL,
    record_id       text NOT NULL,
    reason          text NOT NULL,
    payload         bytea NOT NULL,
    attempt_id      text,
    run_id          text,
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS quarantine_collection_idx ON vectorops.quarantine (collection, attempt_id);

-- Columns added after the first release; idempotent for existing installs.
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS prepare_seconds double precision NOT NULL DEFAULT 0;
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS finalize_seconds double precision;
ALTER TABLE vectorops.migration_chunks ADD COLUMN IF NOT EXISTS reembedded_count bigint NOT NULL DEFAULT 0;
ALTER TABLE vectorops.migration_chunks ADD COLUMN IF NOT EXISTS kept_vector_count bigint NOT NULL DEFAULT 0;
ALTER TABLE vectorops.migration_chunks ADD COLUMN IF NOT EXISTS metadata_count bigint NOT NULL DEFAULT 0;
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS embedding_mode text;
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS embedding_model text;
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS validate_seconds double precision;
-- Ids staged from the store's files carry their element's position there, and the run the files' stamp.
ALTER TABLE vectorops.migration_source_ids ADD COLUMN IF NOT EXISTS source_position bigint;
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS source_stamp text;
-- source ids no btree entry holds even compressed: quarantined at staging, never planned into a chunk
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS unkeyable_count bigint NOT NULL DEFAULT 0;
-- how the attempt read its source: files, api-snapshot (Chroma's client on a private copy) or api-server
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS reader text;
-- 'rejected': the shadow table failed validation; it is kept for inspection and never resumed.
ALTER TABLE vectorops.migration_runs DROP CONSTRAINT IF EXISTS migration_runs_status_check;
ALTER TABLE vectorops.migration_runs ADD CONSTRAINT migration_runs_status_check
    CHECK (status IN ('scanning', 'loading', 'promoted', 'failed', 'superseded', 'rejected'));
-- What the live table must still satisfy: the daily validation checks it against these values.
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS source_embedding_model text;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS embedding_mode text;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS reembedded_count bigint;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS kept_vector_count bigint;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS metadata_count bigint;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS normalized boolean;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS content_sha256 text;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS validated_at timestamptz;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS validation_success boolean;
-- index_method: what was built (hnsw, hnsw_halfvec, ivfflat, hnsw_bit_rerank, none), issue 23; index_kind: what
-- the migration asked for, which an empty collection's first write builds; ivfflat_lists: the lists at the build
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS ivfflat_lists integer;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS index_kind text;
-- A row per source identity (store, tenant, database, collection): `collection` is the bare Chroma name and
-- `collection_key` the platform's handle for it, unique (the name, or tenant/database/name outside Chroma's
-- defaults; with @ and 8 hex digits of the store when another store's collection had that label first), which
-- migration_runs, claims, quarantine, validation_results and search_metrics call `collection`.
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS collection_key text;
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS tenant text NOT NULL DEFAULT 'default_tenant';
ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS database text NOT NULL DEFAULT 'default_database';
UPDATE vectorops.collection_registry SET collection_key = collection WHERE collection_key IS NULL;
-- a row written without a key (by an older vectorops, or by hand) takes its collection name, as before keys
DO $outer$
BEGIN
    -- created once, by whoever bootstraps first; later bootstraps (as another role) leave it alone
    IF to_regprocedure('vectorops.collection_registry_default_key()') IS NULL THEN
        CREATE FUNCTION vectorops.collection_registry_default_key() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.collection_key := coalesce(NEW.collection_key, NEW.collection);
            RETURN NEW;
        END $$;
    END IF;
END $outer$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'collection_registry_default_key'
                   AND tgrelid = 'vectorops.collection_registry'::regclass) THEN
        CREATE TRIGGER collection_registry_default_key BEFORE INSERT ON vectorops.collection_registry
            FOR EACH ROW EXECUTE FUNCTION vectorops.collection_registry_default_key();
    END IF;
END $$;
ALTER TABLE vectorops.collection_registry ALTER COLUMN collection_key SET NOT NULL;
ALTER TABLE vectorops.collection_registry DROP CONSTRAINT IF EXISTS collection_registry_pkey;
-- The identity includes the schema: one source collection may live in two schemas only when a migration was
-- told so explicitly (`previous_schema`: keep), each table then registered, validated and monitored under its own key.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'collection_registry_source_identity'
               AND conrelid = 'vectorops.collection_registry'::regclass
               AND pg_get_constraintdef(oid) NOT LIKE '%table_schema%') THEN
        ALTER TABLE vectorops.collection_registry DROP CONSTRAINT collection_registry_source_identity;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'collection_registry_source_identity'
                   AND conrelid = 'vectorops.collection_registry'::regclass) THEN
        ALTER TABLE vectorops.collection_registry ADD CONSTRAINT collection_registry_source_identity
            UNIQUE NULLS NOT DISTINCT (source_uri, tenant, database, collection, table_schema);
    END IF;
END $$;
CREATE UNIQUE INDEX IF NOT EXISTS collection_registry_key_idx ON vectorops.collection_registry (collection_key);

-- One row per expectation per validation run: the gate before promotion, or a later check of the live table.
CREATE TABLE IF NOT EXISTS vectorops.validation_results (
    result_id       bigserial PRIMARY KEY,
    validation_id   text NOT NULL,
    validated_at    timestamptz NOT NULL DEFAULT now(),
    stage           text NOT NULL CHECK (stage IN ('gate', 'live')),
    collection      text NOT NULL,
    table_schema    text NOT NULL,
    table_name      text NOT NULL,
    run_id          text,
    attempt_id      text,
    suite           text NOT NULL,
    expectation     text NOT NULL,
    success         boolean NOT NULL,
    observed_value  jsonb
);
CREATE INDEX IF NOT EXISTS validation_results_collection_idx
    ON vectorops.validation_results (collection, validated_at DESC);
-- Shadow tables are UNLOGGED while they load: the server start they were last checked under (see unlogged_shadow.py).
ALTER TABLE vectorops.migration_runs ADD COLUMN IF NOT EXISTS shadow_server_start timestamptz;

-- What vectorops created: the only schemas and tables it ever renames, drops, hands to vectorops_etl or grants
-- on (see ownership.py). A table or schema counts as created by vectorops while its oid is still the recorded
-- one, so a table dropped and re-created by someone else under the same name is theirs. Recorded when created,
-- renamed at promotion, adopted by a verified restore. An install from before the record adopts, once, what it
-- certainly made, where vectorops_etl owns it: the tables of its registry, and their __prev and the shadow tables
-- of unfinished attempts when they have the vector-table layout (an older bootstrap handed over whatever sat
-- under those names); then each registry schema (and `vectors`) that holds nothing else.
DO $$
BEGIN
    IF to_regclass('vectorops.owned_objects') IS NULL THEN
        CREATE TABLE vectorops.owned_objects (
            kind         text NOT NULL CHECK (kind IN ('schema', 'table')),
            schema_name  text NOT NULL,
            object_name  text NOT NULL DEFAULT '',
            object_oid   oid NOT NULL,
            created_by   text,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (kind, schema_name, object_name)
        );
        IF to_regrole('vectorops_etl') IS NOT NULL THEN
            INSERT INTO vectorops.owned_objects (kind, schema_name, object_name, object_oid, created_by)
            SELECT DISTINCT ON (c.oid) 'table', t.table_schema, t.table_name, c.oid, t.origin
            FROM (SELECT r.table_schema, r.table_name, 'adopted from the registry' AS origin, false AS by_name
                  FROM vectorops.collection_registry r
                  UNION ALL
                  SELECT r.table_schema, r.table_name || '__prev', 'adopted: the registry''s previous table', true
                  FROM vectorops.collection_registry r
                  UNION ALL
                  SELECT m.target_schema, m.shadow_table, 'adopted: attempt ' || m.attempt_id, true
                  FROM vectorops.migration_runs m WHERE m.status <> 'promoted') t
            JOIN pg_namespace n ON n.nspname = t.table_schema
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name AND c.relkind = 'r'
            WHERE c.relowner = 'vectorops_etl'::regrole
              AND (NOT t.by_name OR ARRAY(SELECT a.attname::text FROM pg_attribute a
                                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                                           ORDER BY a.attnum)
                                     = ARRAY['id', 'embedding', 'document', 'metadata', 'uri'])
            ON CONFLICT DO NOTHING;
            INSERT INTO vectorops.owned_objects (kind, schema_name, object_oid, created_by)
            SELECT 'schema', n.nspname, n.oid, 'adopted: a registry schema holding only vector tables'
            FROM pg_namespace n
            WHERE (n.nspname = 'vectors' OR n.nspname IN (SELECT table_schema FROM vectorops.collection_registry))
              AND n.nspowner = 'vectorops_etl'::regrole
              AND NOT EXISTS (SELECT 1 FROM pg_class c
                              WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                                AND NOT EXISTS (SELECT 1 FROM vectorops.owned_objects o
                                                WHERE o.kind = 'table' AND o.object_oid = c.oid))
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
END $$;
-- Whether an application wrote the table through vectorops.store (its rows change by design, so validation
-- compares no migration counts or checksum with it): a property of this identity, set by the store when it
-- creates the table; a migration's promotion sets it false.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'vectorops.collection_registry'::regclass
                   AND attname = 'app_written' AND NOT attisdropped) THEN
        ALTER TABLE vectorops.collection_registry ADD COLUMN app_written boolean NOT NULL DEFAULT false;
        -- once, when the column arrives: the store-created identities of an older install (no source, nothing
        -- migrated, a store row under their key) stay app-written
        IF to_regclass('vectorops.store_collections') IS NOT NULL THEN
            UPDATE vectorops.collection_registry r SET app_written = true
            WHERE r.source_uri IS NULL AND r.loaded_count = 0
              AND EXISTS (SELECT 1 FROM vectorops.store_collections s WHERE s.collection = r.collection_key);
        END IF;
    END IF;
END $$;
-- HNSW settings as built and as the source has them (issue 26): hnsw_m and hnsw_ef_construction are what the
-- table's HNSW index is built with (pgvector takes m 2..100, ef_construction 4..1000 and at least 2 * m;
-- load/hnsw_params.py), source_hnsw_m and source_hnsw_ef_construction the collection's own M and construction_ef
-- (a store caller's, for a collection the store created). Once, when the columns arrive, the rows already there
-- get as source values the ones they recorded: both were the source's until then.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'vectorops.collection_registry'::regclass
                   AND attname = 'source_hnsw_m' AND NOT attisdropped) THEN
        ALTER TABLE vectorops.collection_registry ADD COLUMN IF NOT EXISTS source_hnsw_m integer,
            ADD COLUMN IF NOT EXISTS source_hnsw_ef_construction integer;
        UPDATE vectorops.collection_registry
        SET source_hnsw_m = hnsw_m, source_hnsw_ef_construction = hnsw_ef_construction
        WHERE source_hnsw_m IS NULL AND source_hnsw_ef_construction IS NULL;
    END IF;
END $$;
