-- The dimension and vector index of a table the store wrote first (created empty, or migrated empty), once its first write fixed them.
-- An HNSW index's m and ef_construction as built (a row recorded before they were mapped may have held others).
UPDATE vectorops.collection_registry
SET dimensions = %(dimensions)s, index_name = %(index_name)s, index_method = %(index_method)s,
    ivfflat_lists = %(lists)s, hnsw_m = coalesce(%(m)s, hnsw_m),
    hnsw_ef_construction = coalesce(%(ef_construction)s, hnsw_ef_construction)
WHERE collection_key = %(collection)s
