-- A taken backup's files and what it holds; it now waits for its verification.
UPDATE vectorops.backups SET status = 'verifying', finished_at = now(), dump_bytes = %s,
       dump_sha256 = %s, chroma_bytes = %s, chroma_sha256 = %s, manifest_sha256 = %s,
       tables = %s, total_rows = %s, details = coalesce(details, '{}') || %s
WHERE backup_id = %s
