-- Undo what older versions set for {owner} (the embedded server's superuser): its default privileges granted
-- every schema and table it created, anywhere, to the reader and maintenance roles. What vectorops creates is
-- granted when it is recorded (ownership.py) and by grant_vector_privileges.sql; nothing else is.
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE USAGE ON SCHEMAS FROM vectorops_reader, vectorops_maint;
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE SELECT ON TABLES FROM vectorops_reader, vectorops_maint;
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE SELECT ON SEQUENCES FROM vectorops_maint
