-- The sources collections were migrated from, the most recent first (a registry row the store created has none),
-- to name them when a sync is asked of another.
SELECT source_uri FROM vectorops.collection_registry
WHERE NOT app_written AND source_uri IS NOT NULL
GROUP BY source_uri
ORDER BY max(migrated_at) DESC, source_uri
