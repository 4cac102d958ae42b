-- How many rows of the filter sample (see select_filter_candidate.sql) carry metadata, and the sample's size.
SELECT count(*) FILTER (WHERE metadata IS NOT NULL AND metadata <> '{{}}'::jsonb), count(*)
FROM (
    SELECT metadata
    FROM {table}
    ORDER BY md5(id || %(seed)s::text), id
    LIMIT %(size)s
) AS sample
