-- One validation_results row per expectation.
INSERT INTO vectorops.validation_results (validation_id, stage, collection, table_schema, table_name,
    run_id, attempt_id, suite, expectation, success, observed_value)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
