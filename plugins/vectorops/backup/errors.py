"""The error of the backup jobs (kept apart so that every backup module, the signing key's included, may raise it)."""

from __future__ import annotations

from vectorops.errors import VectoropsError


class BackupError(VectoropsError, RuntimeError):
    """A backup could not be taken, verified, signed, restored or expired; the message names the backup id and path
    (or the signing key's file)."""
