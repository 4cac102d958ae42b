-- pg_stat_statements stops tracking utility statements for this transaction, where the extension is loaded and
-- the current user is a superuser (only a superuser may change the setting).
SELECT set_config('pg_stat_statements.track_utility', 'off', true)
WHERE current_setting('pg_stat_statements.track_utility', true) IS NOT NULL
  AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
