-- On a server recovered to a backup's WAL position: the transactions that committed there although the backup's
-- snapshot %(snapshot)s did not see them (in progress then, or begun after it). Read before anything here assigns
-- a transaction id: the current snapshot's xmax is then the first id the recovered WAL never assigned.
SELECT count(*)
FROM (
    SELECT x FROM pg_snapshot_xip(%(snapshot)s::pg_snapshot) AS x
    UNION ALL
    SELECT g::text::xid8
    FROM generate_series(pg_snapshot_xmax(%(snapshot)s::pg_snapshot)::text::bigint,
                         pg_snapshot_xmax(pg_current_snapshot())::text::bigint - 1) AS g
) AS unseen
WHERE pg_xact_status(x) = 'committed'
