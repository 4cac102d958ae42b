-- Who may connect to the vectors database, and vectorops_etl may create schemas in it (new target schemas).
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY, CREATE ON DATABASE %I TO vectorops_etl', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO vectorops_maint, vectorops_monitor, vectorops_reader',
                   current_database());
END $$
