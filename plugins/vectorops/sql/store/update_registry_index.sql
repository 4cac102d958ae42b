-- The dimension and vector index of a table the store wrote first (created empty, or migrated empty), once its first write fixed them.
UPDATE vectorops.collection_registry
SET dimensions = %(dimensions)s, index_name = %(index_name)s, index_method = %(index_method)s,
    ivfflat_lists = %(lists)s
WHERE collection_key = %(collection)s
