-- In vectorops_restore_template: the vector extension, so that the scratch databases of verified restores (cloned
-- from it by vectorops_maint, which may not create an untrusted extension itself) have it.
CREATE EXTENSION IF NOT EXISTS vector
