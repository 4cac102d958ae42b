-- The dimension and HNSW index of a store-created table, once its first write fixed them.
UPDATE vectorops.collection_registry
SET dimensions = %(dimensions)s, index_name = %(index_name)s, index_method = %(index_method)s
WHERE collection_key = %(collection)s
