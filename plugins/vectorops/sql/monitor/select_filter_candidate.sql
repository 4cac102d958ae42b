-- The metadata filter of the filtered-recall probe: the most frequent scalar key/value pair in a seeded sample
-- of rows whose share of the sample lies between 1 and 50 percent. Ties go to the smaller key, then value.
WITH sample AS (
    SELECT metadata
    FROM {table}
    ORDER BY md5(id || %(seed)s::text), id
    LIMIT %(size)s
), pairs AS (
    SELECT e.key, e.value, count(*) AS hits
    FROM sample
    CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(sample.metadata) = 'object'
                                       THEN sample.metadata ELSE '{{}}'::jsonb END) AS e
    WHERE jsonb_typeof(e.value) IN ('string', 'number', 'boolean')
    GROUP BY e.key, e.value
), total AS (
    SELECT count(*) AS sampled FROM sample
)
SELECT jsonb_build_object(pairs.key, pairs.value) AS filter, pairs.hits, total.sampled
FROM pairs CROSS JOIN total
WHERE pairs.hits >= 0.01 * total.sampled AND pairs.hits <= 0.5 * total.sampled
ORDER BY pairs.hits DESC, pairs.key, pairs.value::text
LIMIT 1
