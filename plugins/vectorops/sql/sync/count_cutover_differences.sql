-- Source records the table lacks (quarantined ones aside), table rows the source lacks, and rows whose digests
-- differ. %(quarantined)s: the collection's quarantined record ids.
WITH s AS (SELECT id, digest FROM pg_temp.vectorops_cutover_digests WHERE side = 'source'),
     t AS (SELECT id, digest FROM pg_temp.vectorops_cutover_digests WHERE side = 'table')
SELECT (SELECT count(*) FROM s WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.id = s.id)
                                 AND s.id <> ALL(%(quarantined)s::text[])),
       (SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.id = t.id)),
       (SELECT count(*) FROM s JOIN t USING (id) WHERE s.digest <> t.digest),
       (SELECT count(*) FROM s JOIN t USING (id))
