-- query: the k nearest rows that pass {filter}. {distance}: the operator expression the HNSW index serves
-- (embedding <-> query ...); {tiebreak}: ", id" for an exact scan. The outer ORDER BY puts an iterative index
-- scan's relaxed order right and breaks ties by id.
SELECT *
FROM (
    SELECT id, {distance} AS distance, {columns}
    FROM {table}
    WHERE embedding IS NOT NULL AND {filter}
    ORDER BY {distance}{tiebreak}
    LIMIT %(k)s
) AS nearest
ORDER BY distance, id
