-- The one row of vectorops.schema_version: the schema version just applied.
WITH cleared AS (DELETE FROM vectorops.schema_version)
INSERT INTO vectorops.schema_version (sha256) VALUES (%s)
