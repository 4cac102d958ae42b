-- p95 latency and recall@10 of each migrated collection over the last `days` days, oldest first,
-- at most `max_points` measurements (the newest) per collection.
SELECT collection, measured_at, p95_ms, recall_at_10
FROM (
    SELECT sm.collection, sm.measured_at, sm.p95_ms, sm.recall_at_10,
           row_number() OVER (PARTITION BY sm.collection ORDER BY sm.measured_at DESC, sm.metric_id DESC) AS newest
    FROM vectorops.search_metrics sm
    JOIN vectorops.collection_registry r ON r.collection_key = sm.collection
    WHERE sm.measured_at >= now() - make_interval(days => %(days)s)
) recent
WHERE newest <= %(max_points)s
ORDER BY collection COLLATE "C", measured_at
