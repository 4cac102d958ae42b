-- One monitor measurement of one table. ef_search and advised_ef_search are values of search_knob.
INSERT INTO vectorops.search_metrics (
    run_id, collection, table_schema, table_name, index_name, index_used, row_count, table_bytes, index_bytes,
    probes, ef_search, search_knob, p50_ms, p95_ms, p99_ms, recall_at_10, filter, filtered_recall_at_10,
    filtered_p95_ms, advised_ef_search, advised_recall, breaches, details, during_index_build)
VALUES (
    %(run_id)s, %(collection)s, %(table_schema)s, %(table_name)s, %(index_name)s, %(index_used)s, %(row_count)s,
    %(table_bytes)s, %(index_bytes)s, %(probes)s, %(ef_search)s, %(search_knob)s, %(p50_ms)s, %(p95_ms)s, %(p99_ms)s,
    %(recall_at_10)s, %(filter)s, %(filtered_recall_at_10)s, %(filtered_p95_ms)s, %(advised_ef_search)s,
    %(advised_recall)s, %(breaches)s, %(details)s, %(during_index_build)s)
RETURNING metric_id, measured_at
