-- query through an index whose order is approximate (halfvec, or bits): the %(depth)s rows nearest by {order},
-- the expression the index serves, among those that pass {filter}; re-ordered by the full-precision {distance},
-- the k nearest of them, ties broken by id.
SELECT id, {distance} AS distance, {columns}
FROM (
    SELECT *
    FROM {table}
    WHERE embedding IS NOT NULL AND {filter}
    ORDER BY {order}
    LIMIT %(depth)s
) AS candidates
ORDER BY distance, id
LIMIT %(k)s
