"""The one error hierarchy of vectorops: what went wrong says whether a retry can help.

::

    VectoropsError
    ├── RequestError        the request cannot be served as given; rejected before any work, never retried
    │   ├── SettingError    a setting or parameter has a value we cannot use
    │   ├── SourceError     the Chroma source is missing, unreadable or not what was asked for
    │   │   └── SourceChanged   the source was written while it was read: the one source error worth a retry
    │   └── TargetRefused   the migration may not write where it was asked to
    ├── DataError           a record or value PostgreSQL cannot hold as it is (it goes to quarantine)
    ├── ValidationFailed    a table failed validation; at the gate it is not promoted
    ├── IncompleteMigration the loaded data does not add up; the collection is not promoted
    └── CollectionBusy      another run is migrating the collection

Stage-specific errors subclass these (``FilesUnreadable``, ``StoreError``, ``BackupError``, ...). The classes
that were ``ValueError`` or ``RuntimeError`` before this hierarchy keep that base too, so code that caught the
builtin still catches them; new code catches these classes.
"""

from __future__ import annotations

from typing import Any, Protocol


class VectoropsError(Exception):
    """Base of every error vectorops raises on purpose."""


class RequestError(VectoropsError, ValueError):
    """The request cannot be served as given: a setting, the source or the target. Deterministic: a retry
    cannot help, and the message names what to fix."""


class SettingError(RequestError):
    """A setting from the environment or a parameter has a value we cannot use."""


class SourceError(RequestError):
    """The Chroma source is missing, unreadable, or not what was asked for; names the path or collection."""


class SourceChanged(SourceError):
    """The source changed while a migration read it: a rerun reads it again (the one source error worth a retry)."""


class TargetRefused(RequestError):
    """The migration may not write where it was asked to; nothing was changed. Retrying cannot help."""


class DataError(VectoropsError, ValueError):
    """A record or value PostgreSQL cannot hold as it is; the message says which and why."""


class _Report(Protocol):
    @property
    def collection(self) -> str: ...
    @property
    def schema(self) -> str: ...
    @property
    def table(self) -> str: ...
    @property
    def failed_expectations(self) -> list[dict[str, Any]]: ...

    def describe(self) -> str: ...


class ValidationFailed(VectoropsError, RuntimeError):
    """A table failed validation; at the gate, it is not promoted.

    :param report: the validation report (:class:`vectorops.quality.gate.ValidationReport`).
    """

    def __init__(self, report: _Report) -> None:
        super().__init__(report.describe())
        self.report = report
        self.failed_expectations = report.failed_expectations
        self.collection = report.collection
        self.table = f"{report.schema}.{report.table}"


class IncompleteMigration(VectoropsError, RuntimeError):
    """The loaded data does not add up; the collection is not promoted."""


class CollectionBusy(VectoropsError, RuntimeError):
    """Another run is migrating the collection."""
