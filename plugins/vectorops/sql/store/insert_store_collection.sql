-- The store's own record of a collection it created, under its registry key: its Chroma-style metadata and the
-- service that made it. A row left under that key by an earlier collection is replaced.
INSERT INTO vectorops.store_collections (collection, metadata, created_by)
VALUES (%(collection)s, %(metadata)s, %(service)s)
ON CONFLICT (collection) DO UPDATE
SET metadata = EXCLUDED.metadata, created_by = EXCLUDED.created_by, created_at = now()
