-- Sizes, change counter and dead tuples of one table (%(table)s is its qualified, quoted name).
SELECT pg_table_size(c.oid), pg_indexes_size(c.oid), s.n_tup_ins + s.n_tup_upd + s.n_tup_del, s.n_dead_tup
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = to_regclass(%(table)s)
