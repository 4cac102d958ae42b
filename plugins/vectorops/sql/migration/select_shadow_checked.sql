-- Whether the attempt's shadow table was compared with its ledger since the server last started.
SELECT shadow_server_start IS NOT DISTINCT FROM pg_postmaster_start_time()
FROM vectorops.migration_runs
WHERE attempt_id = %s
