-- The stored probe vectors of a table, in probe order.
SELECT record_id, embedding, attempt_id, seed, created_at FROM vectorops.search_probes
WHERE table_schema = %s AND table_name = %s ORDER BY probe_no
