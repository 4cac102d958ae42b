INSERT INTO vectorops.sync_runs (sync_id, collection, kind, status, from_point)
VALUES (%(sync_id)s, %(collection)s, %(kind)s, 'running', %(from_point)s)
