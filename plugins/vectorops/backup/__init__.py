"""Verified backups of the vector schemas and the ``vectorops`` schema.

One backup is a directory ``<VECTOROPS_BACKUP_DIR>/<backup_id>/`` holding ``vectors.dump`` (``pg_dump -Fc``),
``chroma.tar.gz`` when a Chroma path is configured, and ``manifest.json`` (sha256 of each file, row counts,
per-table checksums and one fixed exact top-10 query per vector table, all taken in the dump's snapshot).

- :mod:`~vectorops.backup.take`: take one backup (:mod:`.snapshot`, :mod:`.chroma_archive`, :mod:`.manifest`);
- :mod:`~vectorops.backup.verify`: check the files, restore into a scratch database, compare (:mod:`.compare`);
- :mod:`~vectorops.backup.jobs`: take + verify + record + alert, as the CLI and the DAG run them;
- :mod:`~vectorops.backup.retention`, :mod:`~vectorops.backup.freshness`, :mod:`~vectorops.backup.restore`;
- :mod:`~vectorops.backup.ledger`: the rows of ``vectorops.backups``; :mod:`.pg_tools`: ``pg_dump``/``pg_restore``.
"""
