-- The store's own record of a collection it created: its Chroma-style metadata and the service that made it.
INSERT INTO vectorops.store_collections (collection, metadata, created_by)
VALUES (%(collection)s, %(metadata)s, %(service)s)
ON CONFLICT (collection) DO NOTHING
