-- Rows of this batch that are not upserted with the rest (applied alone, or refused by the live table's key).
DELETE FROM pg_temp.vectorops_sync_rows WHERE id = ANY(%s)
