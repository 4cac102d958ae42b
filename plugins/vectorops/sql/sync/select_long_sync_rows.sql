-- This batch's ids longer than %(bytes)s bytes of UTF-8: the live table's key may refuse them.
SELECT id FROM pg_temp.vectorops_sync_rows WHERE octet_length(id) > %(bytes)s ORDER BY id
