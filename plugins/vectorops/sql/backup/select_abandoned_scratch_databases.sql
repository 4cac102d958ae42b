-- Scratch databases of backup verifications that nobody is connected to (%(prefix)s is a LIKE pattern).
SELECT d.datname FROM pg_database d
WHERE d.datname LIKE %(prefix)s
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
  AND pg_has_role(d.datdba, 'USAGE')
ORDER BY 1
