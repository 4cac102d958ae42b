-- The schemas the registry holds a collection in: by its key, else by its name.
SELECT DISTINCT table_schema FROM vectorops.collection_registry
WHERE collection_key = %(c)s OR (collection = %(c)s AND NOT EXISTS (
    SELECT 1 FROM vectorops.collection_registry WHERE collection_key = %(c)s))
ORDER BY 1
