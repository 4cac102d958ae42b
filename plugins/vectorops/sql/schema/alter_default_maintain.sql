-- PostgreSQL 17+: tables {owner} creates grant MAINTAIN (VACUUM, ANALYZE, REINDEX, CLUSTER, LOCK) to vectorops_maint.
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT MAINTAIN ON TABLES TO vectorops_maint
