-- The stored (not generated) columns of the second table that the first table has too, in the second's order.
-- Parameters: both tables as qualified, quoted names.
SELECT a.attname::text FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_attribute b
  ON b.attrelid = to_regclass(%s) AND b.attname = a.attname AND b.attnum > 0 AND NOT b.attisdropped
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum
