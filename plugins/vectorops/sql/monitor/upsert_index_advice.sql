-- The monitor's ef_search advice for a table's index. The built_* columns belong to maintenance.
INSERT INTO vectorops.index_health AS h (table_schema, table_name, index_name, advised_ef_search, advised_recall,
                                         advised_at)
VALUES (%(table_schema)s, %(table_name)s, %(index_name)s, %(advised_ef_search)s, %(advised_recall)s, now())
ON CONFLICT (table_schema, table_name) DO UPDATE SET
    index_name = COALESCE(h.index_name, EXCLUDED.index_name),
    advised_ef_search = EXCLUDED.advised_ef_search,
    advised_recall = EXCLUDED.advised_recall,
    advised_at = EXCLUDED.advised_at
