-- Rows of {table}, counted up to %(cap)s (a cheap "is it small?" for choosing exact search).
SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT %(cap)s) AS capped
