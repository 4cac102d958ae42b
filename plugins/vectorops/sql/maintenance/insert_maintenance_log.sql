-- An action starts: recorded before it runs, so a killed run still leaves a trace ('running').
INSERT INTO vectorops.maintenance_log (run_id, table_schema, table_name, index_name, action, reason, status,
                                       table_bytes_before, index_bytes_before, details)
VALUES (%(run_id)s, %(schema)s, %(table)s, %(index)s, %(kind)s, %(reason)s, 'running',
        %(table_bytes)s, %(index_bytes)s, %(details)s)
RETURNING log_id
