"""Point-in-time recovery of the embedded server: PostgreSQL's own tools, driven and checked.

The repository (``VECTOROPS_PITR_DIR``) holds ``wal/``, every WAL segment archived by the server's ``basic_archive``
(:func:`vectorops.db.runtime.wal_options`), and ``base/``, one directory per physical base backup.

- :mod:`~vectorops.backup.pitr.catalog`: the base backups the repository holds, and the chain a recovery needs;
- :mod:`~vectorops.backup.pitr.base_backup`: a full or incremental ``pg_basebackup``, checked by ``pg_verifybackup``;
- :mod:`~vectorops.backup.pitr.archive_status`: the archive's progress, and archiving everything written so far;
- :mod:`~vectorops.backup.pitr.retention`: the newest full chains kept, the WAL they need, nothing else;
- :mod:`~vectorops.backup.pitr.recover`: ``pg_combinebackup`` of a chain and a scratch server recovered from it to a
  point in time;
- :mod:`~vectorops.backup.pitr.restore_into`: that point in time into a database, through the verified restore;
- :mod:`~vectorops.backup.pitr.drill`: the recovery drill, a dump's snapshot recovered and compared off production;
  :mod:`~vectorops.backup.pitr.drill_age`: when the drills are stale.

The repository is the catalog: a recovery is needed when the database is gone, so nothing here reads the database
to find a backup.
"""
