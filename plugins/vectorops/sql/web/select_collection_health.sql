-- One row per migrated collection: its registry entry, the live table's vector index, the newest validation
-- (with the names of its failed expectations), the newest verified backup of its schema and the newest search
-- measurement, and where it stands against its source (live sync: state, lag, the newest sync run). Row counts are
-- read per table afterwards (the table names are identifiers, composed in Python).
SELECT r.collection_key AS collection, r.tenant, r.database, r.table_schema, r.table_name, r.dimensions, r.distance, r.embedding_model,
       r.loaded_count, r.migrated_at, r.last_run_id, r.rows_per_s,
       to_regclass(format('%I.%I', r.table_schema, r.table_name)) IS NOT NULL AS table_exists,
       coalesce(ix.index_name, r.index_name) AS index_name,
       -- the kind the registry records (hnsw_halfvec and bits are pg_am hnsw); the access method when it has none
       coalesce(nullif(r.index_method, 'none'), ix.index_method) AS index_method,
       ix.index_bytes, ix.index_valid,
       v.validation_id, v.validated_at, v.stage AS validation_stage, v.success AS validation_success,
       v.failed_expectations,
       b.backup_id, b.verified_at AS backup_verified_at,
       m.measured_at, m.p95_ms, m.recall_at_10, m.run_id AS metrics_run_id,
       r.sync_state, r.read_point, r.read_point_at, r.changes_behind, r.lag_checked_at, r.cut_over_at,
       -- how long the oldest change not yet in the table has waited, as of the last measurement (NULL: unknown)
       CASE WHEN r.changes_behind > 0 AND r.read_point_at IS NOT NULL
            THEN extract(epoch FROM now() - r.read_point_at)::double precision
            WHEN r.changes_behind IS NOT NULL THEN 0.0 END AS lag_seconds,
       s.sync_id, s.kind AS sync_kind, s.status AS sync_status, s.added AS sync_added, s.updated AS sync_updated,
       s.deleted AS sync_deleted, s.quarantined AS sync_quarantined, s.started_at AS sync_started_at,
       s.finished_at AS sync_finished_at, s.error AS sync_error
FROM vectorops.collection_registry r
LEFT JOIN LATERAL (
    SELECT ic.relname AS index_name, am.amname AS index_method, pg_relation_size(i.indexrelid) AS index_bytes,
           i.indisvalid AS index_valid
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam
    WHERE i.indrelid = to_regclass(format('%I.%I', r.table_schema, r.table_name))
      AND am.amname IN ('hnsw', 'ivfflat')
    ORDER BY ic.relname = r.index_name DESC, i.indisvalid DESC, am.amname = 'hnsw' DESC, ic.relname
    LIMIT 1
) ix ON true
LEFT JOIN LATERAL (
    SELECT last.validation_id, last.stage, max(vr.validated_at) AS validated_at, bool_and(vr.success) AS success,
           coalesce(array_agg(DISTINCT vr.expectation ORDER BY vr.expectation) FILTER (WHERE NOT vr.success),
                    '{}') AS failed_expectations
    FROM (SELECT validation_id, stage
          FROM vectorops.validation_results
          WHERE collection = r.collection_key
          ORDER BY validated_at DESC, result_id DESC
          LIMIT 1) last
    JOIN vectorops.validation_results vr
      ON vr.collection = r.collection_key AND vr.validation_id = last.validation_id
    GROUP BY last.validation_id, last.stage
) v ON true
LEFT JOIN LATERAL (
    SELECT bk.backup_id, bk.verified_at
    FROM vectorops.backups bk
    WHERE bk.status = 'verified'
      AND (jsonb_typeof(bk.details -> 'schemas') IS DISTINCT FROM 'array' OR bk.details -> 'schemas' ? r.table_schema)
    ORDER BY bk.verified_at DESC NULLS LAST, bk.started_at DESC
    LIMIT 1
) b ON true
LEFT JOIN LATERAL (
    SELECT sm.measured_at, sm.p95_ms, sm.recall_at_10, sm.run_id
    FROM vectorops.search_metrics sm
    WHERE sm.collection = r.collection_key
    ORDER BY sm.measured_at DESC, sm.metric_id DESC
    LIMIT 1
) m ON true
-- the newest sync run, failed or running ones included (the registry's last_sync_id names only one that applied)
LEFT JOIN LATERAL (
    SELECT sr.sync_id, sr.kind, sr.status, sr.added, sr.updated, sr.deleted, sr.quarantined, sr.started_at,
           sr.finished_at, sr.error
    FROM vectorops.sync_runs sr
    WHERE sr.collection = r.collection_key
    ORDER BY sr.started_at DESC, sr.sync_id DESC
    LIMIT 1
) s ON true
ORDER BY r.collection_key COLLATE "C"
