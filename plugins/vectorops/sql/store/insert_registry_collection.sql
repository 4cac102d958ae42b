-- A collection the store creates is registered like a migrated one, with nothing migrated (counts 0), its
-- dimensions unknown until the first write, no source, and app_written: applications write its rows. Its HNSW
-- settings as they will be built, and as the caller asked for them (source_hnsw_*).
INSERT INTO vectorops.collection_registry (
    collection_key, collection, table_schema, table_name, dimensions, distance, embedding_model, source_count,
    loaded_count, quarantined_count, migrated_at, index_name, index_method, hnsw_m, hnsw_ef_construction,
    hnsw_ef_search, app_written, source_hnsw_m, source_hnsw_ef_construction)
VALUES (
    %(collection_key)s, %(collection)s, %(table_schema)s, %(table_name)s, NULL, %(distance)s, NULL, 0, 0, 0, now(),
    NULL, NULL, %(m)s, %(ef_construction)s, %(ef_search)s, true, %(source_m)s, %(source_ef_construction)s)
