"""The vector schemas as they were at a point in time, restored into a target database by the safe restore.

A scratch server is recovered to the time (:func:`~vectorops.backup.pitr.recover.recover_to_time`); a signed
logical backup of it is taken (:func:`~vectorops.backup.take.take_backup`, into a private temporary directory,
recorded in the scratch server's own ledger); and that backup goes through :func:`~vectorops.backup.restore.
restore_backup`, which verifies it in a scratch database of the target's server and swaps it in only when it matches,
refusing schemas vectorops did not create. The scratch server and the temporary backup are removed afterwards,
whatever happens: a restore that fails leaves the target as it was.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import replace
from datetime import datetime

from vectorops.backup.pg_tools import redacted_dsn
from vectorops.backup.pitr.offsite_fetch import recover_offsite
from vectorops.backup.pitr.recover import RecoveredServer, recover_latest, recover_to_time, remove_recovered
from vectorops.backup.restore import restore_backup
from vectorops.backup.restore_report import RestoreReport
from vectorops.backup.take import take_backup
from vectorops.config import Settings
from vectorops.db import scratch_server

log = logging.getLogger(__name__)


def restore_time_into(settings: Settings, target: datetime | None, dsn: str, *, clean: bool = False,
                      run_id: str | None = None, offsite: bool = False) -> tuple[RecoveredServer, RestoreReport]:
    """Restore the vector schemas and ``vectorops`` as they were at ``target`` into the database ``dsn``.

    :param settings: the settings (the repository, the signing key, the restore role's password).
    :param target: the point in time (timezone-aware); ``None``: every transaction the archive holds.
    :param dsn: the target database, as for :func:`~vectorops.backup.restore.restore_backup`.
    :param clean: replace the schemas that already exist in the target (only once the restored copy matched).
    :param run_id: recorded with the intermediate backup and sent with alerts.
    :param offsite: recover from the off-site copy (:func:`~vectorops.backup.pitr.offsite_fetch.recover_offsite`).
    :return: the scratch server it was read from (already stopped) and the restore's report.
    :raises BackupError: from the recovery or the restore (the target unchanged).
    :raises ValueError: as :func:`~vectorops.backup.restore.restore_backup` refuses a target.
    """
    server = (recover_offsite(settings, target) if offsite else recover_latest(settings) if target is None
              else recover_to_time(settings, target))
    target = server.target
    server_claim = scratch_server.reclaim(server.directory.parent)  # a killed restore's server goes with the next
    # 0700, under VECTOROPS_HOME: it holds a full copy of the vectors; a killed restore's is removed by the next
    staging, claim = scratch_server.claimed_directory(settings.home / "recovered", server.target, "dump-")
    try:
        # the recovered server's own ledger records the intermediate backup; Chroma's files are not part of it
        scratch = replace(settings, chroma_path=None, backup=replace(settings.backup, directory=staging))
        taken = take_backup(scratch, server.dsn, run_id=run_id)
        log.info("backup %s of the server as of %s taken for the restore into %s", taken.backup_id,
                 target.isoformat(), redacted_dsn(dsn))
        report = restore_backup(taken.directory, dsn, clean=clean, settings=settings, ledger_dsn=server.dsn,
                                run_id=run_id)
    finally:
        remove_recovered(server.directory)
        os.close(server_claim)
        shutil.rmtree(staging, ignore_errors=True)
        os.close(claim)
    return server, report
