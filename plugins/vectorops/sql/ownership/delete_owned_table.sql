-- Forget the record of one table of a schema.
DELETE FROM vectorops.owned_objects WHERE kind = 'table' AND schema_name = %s AND object_name = %s
