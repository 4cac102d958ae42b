-- The collections a scheduled sync brings up to date (state 'syncing'), with the source each was migrated from;
-- of one source, or of all when %(source_uri)s is NULL, and in one schema, or any when %(schema)s is NULL.
SELECT collection_key, source_uri, source_conn_id
FROM vectorops.collection_registry
WHERE sync_state = 'syncing' AND NOT app_written
  AND (%(source_uri)s::text IS NULL OR source_uri = %(source_uri)s::text)
  AND (%(schema)s::text IS NULL OR table_schema = %(schema)s::text)
ORDER BY collection_key
