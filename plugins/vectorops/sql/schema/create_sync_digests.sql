-- What a sync from a Chroma server compares: the digest of each source record as last applied (servers expose
-- no sequence numbers). One row per record of a live table synced through Chroma's API, written in the same
-- transaction as the table's rows, and valid for the table of one attempt only: a collection migrated again
-- holds a fresh snapshot, and its old digests are dropped by its next sync.
-- Idempotent: run by `vectorops db up` and before every migration.
CREATE TABLE IF NOT EXISTS vectorops.sync_digests (
    collection  text NOT NULL,
    id          text COLLATE "C" NOT NULL,
    attempt_id  text NOT NULL,
    digest      bytea NOT NULL,
    PRIMARY KEY (collection, id)
);
