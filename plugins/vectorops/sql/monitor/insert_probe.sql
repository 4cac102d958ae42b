-- One probe vector of a table.
INSERT INTO vectorops.search_probes (table_schema, table_name, probe_no, record_id, embedding,
                                     attempt_id, seed) VALUES (%s, %s, %s, %s, %s, %s, %s)
