-- Exactly what each role may do in the vectorops schema. Everything is revoked first, so these grants are the
-- whole story whatever default privileges or older versions granted. vectorops_etl owns the schema.
REVOKE ALL ON ALL TABLES IN SCHEMA vectorops FROM vectorops_maint, vectorops_monitor, vectorops_reader;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA vectorops FROM vectorops_maint, vectorops_monitor, vectorops_reader;
GRANT USAGE ON SCHEMA vectorops TO vectorops_maint, vectorops_monitor, vectorops_reader;

-- vectorops_reader (applications, the Vector Health page): the registry and its health records
GRANT SELECT ON vectorops.collection_registry, vectorops.index_health, vectorops.search_metrics,
    vectorops.validation_results, vectorops.backups, vectorops.sync_runs, vectorops.recovery_drills
    TO vectorops_reader;
-- and of the migration ledger only the figures of a migration's speed (Vector Health: load rate, end-to-end time)
GRANT SELECT (attempt_id, loaded_count, quarantined_count, load_seconds, validate_seconds, index_seconds, started_at,
    finished_at) ON vectorops.migration_runs TO vectorops_reader;

-- vectorops_maint (maintenance, backups): reads everything (a backup dumps the schema), writes its own ledgers
GRANT SELECT ON ALL TABLES IN SCHEMA vectorops TO vectorops_maint;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA vectorops TO vectorops_maint;
GRANT INSERT, UPDATE ON vectorops.maintenance_log, vectorops.index_health, vectorops.backups TO vectorops_maint;
GRANT INSERT ON vectorops.recovery_drills TO vectorops_maint;
GRANT USAGE ON SEQUENCE vectorops.maintenance_log_log_id_seq TO vectorops_maint;
GRANT EXECUTE ON FUNCTION vectorops.drop_invalid_index(text, text) TO vectorops_maint;

-- vectorops_monitor (search monitor, data quality): vectorops_reader's reads, plus the rows those jobs record
GRANT SELECT, INSERT, DELETE ON vectorops.search_probes TO vectorops_monitor;
GRANT INSERT ON vectorops.search_metrics, vectorops.validation_results TO vectorops_monitor;
GRANT INSERT, UPDATE ON vectorops.index_health TO vectorops_monitor;
GRANT UPDATE (validated_at, validation_success) ON vectorops.collection_registry TO vectorops_monitor;
-- which tables vectorops created: validation judges only those (a table re-created under a registry name is not)
GRANT SELECT ON vectorops.owned_objects TO vectorops_monitor;
GRANT USAGE ON SEQUENCE vectorops.search_metrics_metric_id_seq, vectorops.validation_results_result_id_seq
    TO vectorops_monitor;
