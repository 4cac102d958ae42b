-- list_collections: the collections of one service's schema whose table exists, each under the handle that
-- select_collection.sql resolves to it: its name for the row a lookup by that name finds, else its key.
SELECT name
FROM (
    SELECT CASE WHEN row_number() OVER (
                    PARTITION BY r.collection
                    ORDER BY r.collection_key = r.collection DESC,
                             (r.tenant, r.database) = ('default_tenant', 'default_database') DESC,
                             r.migrated_at DESC) = 1
                THEN r.collection ELSE r.collection_key END AS name,
           to_regclass(quote_ident(r.table_schema) || '.' || quote_ident(r.table_name)) IS NOT NULL AS live
    FROM vectorops.collection_registry r
    WHERE r.table_schema = %(schema)s
) AS handles
WHERE live
ORDER BY name
