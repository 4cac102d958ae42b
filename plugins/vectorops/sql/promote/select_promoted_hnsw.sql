-- The HNSW settings of the tables a run promoted (its registry rows): the source's and those built.
SELECT collection_key, source_hnsw_m, source_hnsw_ef_construction, hnsw_m, hnsw_ef_construction, index_kind
FROM vectorops.collection_registry
WHERE last_run_id = %s
