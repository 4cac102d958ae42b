-- A chunk of the attempt, locked until the transaction that loads it ends.
SELECT status, first_id, last_id, row_count FROM vectorops.migration_chunks
WHERE attempt_id = %s AND chunk_no = %s
FOR UPDATE
