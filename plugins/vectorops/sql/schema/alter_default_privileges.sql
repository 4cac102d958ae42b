-- What schemas, tables and sequences {owner} creates from now on grant by themselves: usage and reads for
-- vectorops_reader (so vectorops_monitor) and vectorops_maint. MAINTAIN is added on PostgreSQL 17+
-- (alter_default_maintain.sql). The vectorops schema's own grants are reset by grant_platform_privileges.sql.
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT USAGE ON SCHEMAS TO vectorops_reader, vectorops_maint;
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT SELECT ON TABLES TO vectorops_reader, vectorops_maint;
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT SELECT ON SEQUENCES TO vectorops_maint
