-- Where the time of each collection's last migration went, from the ledger (vectorops.migration_runs): rows written
-- and the seconds of the chunk loads (summed over chunks), the validation gate, the index build, and the attempt
-- from its start to its promotion. The load rate and the end-to-end time are different figures: a small collection's
-- end-to-end time is mostly the gate.
SELECT r.collection_key AS collection, mr.attempt_id, mr.loaded_count, mr.quarantined_count, mr.load_seconds,
       mr.validate_seconds, mr.index_seconds,
       CASE WHEN mr.load_seconds > 0 THEN (mr.loaded_count + mr.quarantined_count) / mr.load_seconds END
           AS load_rows_per_s,
       extract(epoch FROM mr.finished_at - mr.started_at)::double precision AS end_to_end_seconds
FROM vectorops.collection_registry r
JOIN vectorops.migration_runs mr ON mr.attempt_id = r.last_attempt_id
ORDER BY r.collection_key COLLATE "C"
