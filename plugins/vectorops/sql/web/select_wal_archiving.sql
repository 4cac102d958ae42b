-- How the server archives its WAL, as Vector Health shows it (every role may read these): archive_mode, whether it
-- is a standby (which has no WAL position of its own to lag behind), its segment size and archive_timeout.
SELECT current_setting('archive_mode') AS archive_mode, pg_is_in_recovery() AS in_recovery,
       (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS segment_bytes,
       (SELECT setting::integer FROM pg_settings WHERE name = 'archive_timeout') AS archive_timeout_s,
       now() AS now
