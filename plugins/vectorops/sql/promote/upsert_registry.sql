INSERT INTO vectorops.collection_registry AS r (
    collection_key, tenant, database, collection, table_schema, table_name, dimensions, distance, embedding_model, source_count, loaded_count,
    quarantined_count, migrated_at, index_name, index_method, hnsw_m, hnsw_ef_construction, hnsw_ef_search,
    source_uri, source_collection_id, last_run_id, last_attempt_id, rows_per_s, source_embedding_model,
    embedding_mode, reembedded_count, kept_vector_count, metadata_count, normalized, content_sha256, validated_at,
    validation_success, app_written, read_point, read_point_at, sync_state, changes_behind, lag_checked_at,
    last_sync_id, cut_over_at, source_conn_id, ivfflat_lists, index_kind, source_hnsw_m, source_hnsw_ef_construction)
VALUES (
    %(collection_key)s, %(tenant)s, %(database)s, %(collection)s, %(table_schema)s, %(table_name)s, %(dimensions)s, %(distance)s, %(embedding_model)s,
    %(source_count)s, %(loaded_count)s, %(quarantined_count)s, now(), %(index_name)s, %(index_method)s,
    %(hnsw_m)s, %(hnsw_ef_construction)s, %(hnsw_ef_search)s, %(source_uri)s, %(source_collection_id)s,
    %(run_id)s, %(attempt_id)s, %(rows_per_s)s, %(source_embedding_model)s,
    %(embedding_mode)s, %(reembedded_count)s, %(kept_vector_count)s, %(metadata_count)s, %(normalized)s,
    %(content_sha256)s, now(), true, false, %(read_point)s, %(read_point_at)s, 'migrated', %(changes_behind)s,
    now(), NULL, NULL, %(source_conn_id)s, %(ivfflat_lists)s, %(index_kind)s, %(source_hnsw_m)s,
    %(source_hnsw_ef_construction)s)
ON CONFLICT ON CONSTRAINT collection_registry_source_identity DO UPDATE SET
    collection_key = EXCLUDED.collection_key,
    table_schema = EXCLUDED.table_schema, table_name = EXCLUDED.table_name, dimensions = EXCLUDED.dimensions,
    distance = EXCLUDED.distance, embedding_model = EXCLUDED.embedding_model,
    source_count = EXCLUDED.source_count, loaded_count = EXCLUDED.loaded_count,
    quarantined_count = EXCLUDED.quarantined_count, migrated_at = EXCLUDED.migrated_at,
    index_name = EXCLUDED.index_name, index_method = EXCLUDED.index_method, hnsw_m = EXCLUDED.hnsw_m,
    hnsw_ef_construction = EXCLUDED.hnsw_ef_construction, hnsw_ef_search = EXCLUDED.hnsw_ef_search,
    source_uri = EXCLUDED.source_uri, source_collection_id = EXCLUDED.source_collection_id,
    last_run_id = EXCLUDED.last_run_id, last_attempt_id = EXCLUDED.last_attempt_id,
    rows_per_s = EXCLUDED.rows_per_s,
    source_embedding_model = EXCLUDED.source_embedding_model, embedding_mode = EXCLUDED.embedding_mode,
    reembedded_count = EXCLUDED.reembedded_count, kept_vector_count = EXCLUDED.kept_vector_count,
    metadata_count = EXCLUDED.metadata_count, normalized = EXCLUDED.normalized,
    content_sha256 = EXCLUDED.content_sha256, validated_at = EXCLUDED.validated_at,
    validation_success = EXCLUDED.validation_success, app_written = false,
    -- a migration is a fresh snapshot: syncing starts again from its read point
    read_point = EXCLUDED.read_point, read_point_at = EXCLUDED.read_point_at, sync_state = 'migrated',
    changes_behind = EXCLUDED.changes_behind, lag_checked_at = EXCLUDED.lag_checked_at, last_sync_id = NULL,
    cut_over_at = NULL, source_conn_id = EXCLUDED.source_conn_id, ivfflat_lists = EXCLUDED.ivfflat_lists,
    index_kind = EXCLUDED.index_kind, source_hnsw_m = EXCLUDED.source_hnsw_m,
    source_hnsw_ef_construction = EXCLUDED.source_hnsw_ef_construction
