"""What a restore reports, its settings, and how it refuses (alert, then :class:`BackupError`)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from vectorops.backup.errors import BackupError

log = logging.getLogger(__name__)

RESTORE_FAILED = "restore_failed"
PLATFORM_SCHEMA = "vectorops"
SWAP_LOCK_TIMEOUT = "30s"
# run in the swap as the restoring user: the platform's own functions replace whatever the dump held under their
# names (a failure aborts the swap), and the roles get their grants back (the dump is restored without privileges)
PLATFORM_FUNCTIONS = ("schema/create_drop_invalid_index", "schema/replace_platform_functions")
PLATFORM_GRANTS = ("schema/grant_platform_privileges", "schema/grant_vector_privileges")
# the class of the session advisory locks (restore lock, token) a running restore holds on its target ('vrst')
RESTORE_LOCK = 0x76727374
STAGING_TOKEN = re.compile(r"__restoring_([0-9a-f]{8})$")
LENT_CONNECT = "lent CONNECT"


@dataclass
class RestoreReport:
    """The outcome of a restore.

    :param backup_id: the backup restored.
    :param manifest_path: its manifest.
    :param target: the target, redacted.
    :param replaced: schemas that existed and were replaced.
    :param failures: failed comparisons with the manifest (always empty in a report that is returned).
    :param tables: tables compared.
    :param rows: vector rows in the manifest.
    :param seconds: how long it took.
    :param warnings: what the swap could not redo (platform grants), for the operator.
    """

    backup_id: str
    manifest_path: Path
    target: str
    replaced: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The restored database matches the manifest."""
        return not self.failures


def _summary(failures: list[dict[str, Any]]) -> str:
    text = "; ".join(f"{f['expectation']}: {f['observed']}" for f in failures[:3])
    return text if len(text) <= 400 else text[:397] + "..."


def refuse(report: RestoreReport, what: str, failures: list[dict[str, Any]], run_id: str | None) -> NoReturn:
    """Alert and raise: the backup was not restored and the target is as it was."""
    from vectorops.backup import jobs

    report.failures = failures
    message = (f"backup {report.backup_id} ({report.manifest_path.parent}) {what}; not restored, the target "
               f"{report.target} is unchanged: {_summary(failures)}")
    jobs.alert(RESTORE_FAILED, message, failures, dag_id=None, run_id=run_id)
    raise BackupError(message.replace("\n", " "))
