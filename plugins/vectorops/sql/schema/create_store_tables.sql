-- The application-facing store's tables (vectorops.store). Idempotent: the store creates them on first use when
-- they are missing; bootstrap may run it too.
CREATE SCHEMA IF NOT EXISTS vectorops;

-- Collections the store created (their table was not loaded by a migration): Chroma-style collection metadata
-- and the service that created it. Migrated collections have no row here.
CREATE TABLE IF NOT EXISTS vectorops.store_collections (
    collection  text PRIMARY KEY,
    metadata    jsonb,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- dual mode: sampled queries answered by pgvector whose top-k Chroma answered differently (or Chroma failed).
CREATE TABLE IF NOT EXISTS vectorops.store_disagreements (
    disagreement_id  bigserial PRIMARY KEY,
    observed_at      timestamptz NOT NULL DEFAULT now(),
    service          text NOT NULL,
    collection       text NOT NULL,
    n_results        integer NOT NULL,
    where_filter     jsonb,
    where_document   jsonb,
    query_sha256     text NOT NULL,
    postgres_ids     text[] NOT NULL,
    chroma_ids       text[],
    overlap          double precision,
    postgres_ms      double precision,
    chroma_ms        double precision,
    error            text
);
CREATE INDEX IF NOT EXISTS store_disagreements_collection_idx
    ON vectorops.store_disagreements (collection, observed_at DESC);
