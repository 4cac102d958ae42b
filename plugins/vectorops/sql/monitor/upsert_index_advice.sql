-- The monitor's advice for a table's index: the value of search_knob (hnsw.ef_search, ivfflat.probes or re-rank
-- depth) reaching the recall target. The built_* columns belong to maintenance.
INSERT INTO vectorops.index_health AS h (table_schema, table_name, index_name, advised_ef_search, advised_recall,
                                         advised_at, search_knob)
VALUES (%(table_schema)s, %(table_name)s, %(index_name)s, %(advised_ef_search)s, %(advised_recall)s, now(),
        %(search_knob)s)
ON CONFLICT (table_schema, table_name) DO UPDATE SET
    index_name = COALESCE(h.index_name, EXCLUDED.index_name),
    advised_ef_search = EXCLUDED.advised_ef_search,
    advised_recall = EXCLUDED.advised_recall,
    advised_at = EXCLUDED.advised_at,
    search_knob = EXCLUDED.search_knob
