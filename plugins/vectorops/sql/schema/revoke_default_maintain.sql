-- PostgreSQL 17+: see revoke_default_privileges.sql.
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE MAINTAIN ON TABLES FROM vectorops_maint
