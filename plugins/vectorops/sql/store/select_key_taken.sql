-- Whether a registry key is taken: by a registered collection of any schema, or by an unfinished migration
-- attempt that would register it at promotion (as migration_target.collection_key_for sees it).
SELECT EXISTS (SELECT 1 FROM vectorops.collection_registry WHERE collection_key = %(key)s)
    OR EXISTS (SELECT 1 FROM vectorops.migration_runs WHERE collection = %(key)s
               AND status IN ('scanning', 'loading', 'failed', 'rejected'))
