-- A verified cutover: syncs stop, and the table's checksum at the read point is the baseline later checks use.
UPDATE vectorops.collection_registry
SET sync_state = 'cut over', cut_over_at = now(), content_sha256 = %(content_sha256)s, changes_behind = 0,
    lag_checked_at = now(), validated_at = now(), validation_success = true
WHERE collection_key = %(collection)s
