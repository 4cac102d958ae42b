"""The one error hierarchy of vectorops: what went wrong says whether a retry can help.

::

    VectoropsError
    ├── RequestError        the request cannot be served as given; rejected before any work, never retried
    │   ├── SettingError    a setting or parameter has a value we cannot use
    │   ├── SourceError     the Chroma source is missing, unreadable or not what was asked for
    │   │   ├── SourceChanged   the source was written while it was read: the one source error worth a retry
    │   │   └── StoreUnusable   the path is not a Chroma store vectorops can read (preflight)
    │   └── TargetRefused   the migration may not write where it was asked to
    ├── DataError           a record or value PostgreSQL cannot hold as it is (it goes to quarantine)
    │   └── UnstorableValue     a value of a record: NaN, a NUL, invalid Unicode, a type JSON cannot hold
    ├── ValidationFailed    a table failed validation; at the gate it is not promoted
    ├── IncompleteMigration the loaded data does not add up; the collection is not promoted
    ├── CollectionBusy      another run is migrating the collection
    ├── FilesUnreadable     the store's files are in no layout the files reader knows: read through Chroma's API
    │   └── FilesDamaged    the files are in a known layout but do not add up: the API would read the same
    └── QualitySuiteError   Great Expectations could not validate a table (never a failed expectation)

Stage-specific errors that are the public vocabulary of their package stay beside it and subclass
:class:`VectoropsError`: ``vectorops.store.errors.StoreError`` (and its kinds) and
``vectorops.backup.errors.BackupError``. The classes that were ``ValueError`` or ``RuntimeError`` before this
hierarchy keep that base too, so code that caught the builtin still catches them; new code catches these classes.
``FilesUnreadable`` is no ``SourceError``: it tells the reader to read through Chroma's API instead, and the
reader turns what it cannot recover from into a ``SourceError`` naming the collection.
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


class StoreUnusable(SourceError):
    """The path is not a Chroma store this package can read as it is; the message says what is wrong (it reads
    after the path: "does not exist", "has a corrupt chroma.sqlite3")."""


class TargetRefused(RequestError):
    """The migration may not write where it was asked to; nothing was changed. Retrying cannot help."""


class DataError(VectoropsError, ValueError):
    """A record or value PostgreSQL cannot hold as it is; the message says which and why."""


class UnstorableValue(DataError):
    """A value PostgreSQL cannot hold as it is; the message says which and why."""


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


class FilesUnreadable(VectoropsError):
    """The store's files are not in a layout the files reader knows; the message says which part and why.

    Not a :class:`SourceError`: the reader then reads the collection through Chroma's API, which may know it.
    """


class FilesDamaged(FilesUnreadable):
    """The files are in a layout the files reader knows, but do not add up (a file missing, shorter than its header
    says): Chroma's API would read the same damaged files, so nothing falls back to it."""


class FilesSettling(FilesUnreadable):
    """A writer has logged a write its metadata segment has not applied yet (Chroma 1.x applies it moments later):
    the files are readable again after a short wait, so a reader waits instead of falling back to the API."""


class QualitySuiteError(VectoropsError, RuntimeError):
    """Great Expectations could not validate the table (no connection, a query failed, GX broke); never for a failed
    expectation."""
