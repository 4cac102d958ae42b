-- The collation $regex runs under: one with Unicode character classes (PostgreSQL 18's pg_unicode_fast, else
-- 17's pg_c_utf8), as Chroma's Rust regexes are Unicode-aware; NULL on a non-UTF8 database (then the default).
SELECT c.collname
FROM pg_collation c
WHERE c.collname IN ('pg_unicode_fast', 'pg_c_utf8') AND c.collnamespace = 'pg_catalog'::regnamespace
  AND pg_encoding_to_char((SELECT encoding FROM pg_database WHERE datname = current_database())) = 'UTF8'
ORDER BY c.collname = 'pg_unicode_fast' DESC
LIMIT 1
