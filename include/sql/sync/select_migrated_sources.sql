-- The sources collections were migrated from (a registry row the store created has none), to name them when a
-- sync is asked of another.
SELECT DISTINCT source_uri FROM vectorops.collection_registry
WHERE NOT app_written AND source_uri IS NOT NULL
ORDER BY source_uri
