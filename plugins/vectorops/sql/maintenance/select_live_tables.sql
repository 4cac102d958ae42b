-- Every live table of the registry with its activity counters, sizes and index build baseline.
-- changes: rows inserted, updated or deleted since the statistics were last reset.
SELECT r.collection_key AS collection, r.table_schema, r.table_name, r.dimensions, r.index_name, r.hnsw_m, r.loaded_count,
       c.oid AS relid, s.n_live_tup, s.n_dead_tup, s.n_tup_ins + s.n_tup_upd + s.n_tup_del AS changes,
       s.n_mod_since_analyze, greatest(s.last_analyze, s.last_autoanalyze) AS last_analyzed,
       pg_table_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes,
       h.built_rows, h.built_changes, h.built_dead_rows, h.rebuild_reason, h.advised_ef_search, h.advised_recall,
       h.search_knob
FROM vectorops.collection_registry r
LEFT JOIN pg_namespace n ON n.nspname = r.table_schema
-- only the table vectorops created under that name: one someone else put there is not maintained (it reads as missing)
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.table_name AND c.relkind = 'r'
    AND EXISTS (SELECT 1 FROM vectorops.owned_objects o WHERE o.kind = 'table' AND o.schema_name = r.table_schema
                AND o.object_name = r.table_name AND o.object_oid = c.oid)
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
LEFT JOIN vectorops.index_health h ON h.table_schema = r.table_schema AND h.table_name = r.table_name
ORDER BY r.collection_key, r.table_schema, r.table_name
