-- The ids no key could hold were quarantined at staging.
UPDATE vectorops.migration_runs SET unkeyable_count = %s, quarantined_count = quarantined_count + %s
WHERE attempt_id = %s
