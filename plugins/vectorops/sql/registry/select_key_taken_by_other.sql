-- Whether a collection key is held by another collection or another store's unfinished run.
SELECT 1 FROM vectorops.collection_registry WHERE collection_key = %(key)s
UNION ALL
SELECT 1 FROM vectorops.migration_runs WHERE collection = %(key)s
    AND (source_uri IS DISTINCT FROM %(uri)s OR target_schema <> %(schema)s)
    AND status IN ('scanning', 'loading', 'failed', 'rejected')
    LIMIT 1
