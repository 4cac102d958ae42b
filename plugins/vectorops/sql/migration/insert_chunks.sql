-- Split an attempt's sorted source ids into chunks of %(chunk_rows)s rows.
INSERT INTO vectorops.migration_chunks (attempt_id, chunk_no, first_id, last_id, row_count)
SELECT %(attempt_id)s, chunk_no, min(id), max(id), count(*)
FROM (
    SELECT id, ((row_number() OVER (ORDER BY id)) - 1) / %(chunk_rows)s AS chunk_no
    FROM vectorops.migration_source_ids
    WHERE attempt_id = %(attempt_id)s
) numbered
GROUP BY chunk_no
ORDER BY chunk_no
