-- A new attempt: it starts by scanning the source's ids.
INSERT INTO vectorops.migration_runs (attempt_id, run_id, collection, status, target_schema, table_name,
    shadow_table, source_uri, source_fingerprint, owner_token)
VALUES (%(attempt_id)s, %(run_id)s, %(collection)s, 'scanning', %(target_schema)s, %(table_name)s,
    %(shadow_table)s, %(source_uri)s, %(fingerprint)s, %(owner_token)s)
