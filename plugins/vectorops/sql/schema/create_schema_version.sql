-- Which platform schema this database holds: the sha256 of the schema files that made it (db/bootstrap.py). A
-- bootstrap whose files hash the same skips their DDL, whose ALTER TABLEs take exclusive locks on the platform
-- tables and could deadlock with a sync or a migration writing them.
CREATE TABLE IF NOT EXISTS vectorops.schema_version (
    sha256      text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
