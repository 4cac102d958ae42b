-- Record the latest validation verdict of a collection.
UPDATE vectorops.collection_registry SET validated_at = now(), validation_success = %s
WHERE collection_key = %s
