-- delete_collection: the registry row and the store's row, by registry key (the table is dropped beside it).
WITH store_row AS (DELETE FROM vectorops.store_collections WHERE collection = %(collection)s)
DELETE FROM vectorops.collection_registry WHERE collection_key = %(collection)s
