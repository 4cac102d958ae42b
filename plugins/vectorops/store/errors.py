"""The store's exceptions: every one is a :class:`ValueError`, as Chroma's own argument errors are, and each kind
that has a Chroma counterpart subclasses it too, so that ``except`` clauses written for Chroma keep working:

::

    StoreError (ValueError)
    ├── InvalidArgument          chromadb.errors.InvalidArgumentError: an argument Chroma refuses
    │   ├── InvalidArgumentType  + TypeError: where Chroma raises TypeError (a limit that is no int ...)
    │   ├── DuplicateIds         + chromadb.errors.DuplicateIDError
    │   ├── UnknownIds           + LookupError, chromadb.errors.InternalError ("Error finding id" in query)
    │   ├── InvalidRecord        a record Chroma refuses, or that PostgreSQL cannot hold exactly
    │   ├── DimensionMismatch    embeddings of another length than the collection's
    │   └── UnsupportedFilter    a filter Chroma refuses, or that the store cannot translate exactly
    ├── CollectionNotFound       + LookupError, chromadb.errors.NotFoundError
    ├── QueryTimeout
    └── PoolExhausted

Importing this module imports ``chromadb.errors`` (and so chromadb, about a second once per process): a class
cannot take Chroma's classes as bases later. Nothing a DAG imports at parse time imports the store.
"""

from __future__ import annotations

from chromadb.errors import DuplicateIDError, InternalError, InvalidArgumentError, NotFoundError

from vectorops.errors import VectoropsError


class StoreError(VectoropsError, ValueError):
    """A request the store cannot serve as asked; the message says what and why."""


class InvalidArgument(StoreError, InvalidArgumentError):
    """An argument of the collection API that Chroma refuses too; the message names the argument."""


class InvalidArgumentType(InvalidArgument, TypeError):
    """An argument of a type Chroma refuses with a :class:`TypeError` (``limit="2"``, ``n_results=0`` ...)."""


class DuplicateIds(InvalidArgument, DuplicateIDError):
    """The same id twice in one ``add`` / ``upsert`` / ``update`` / ``get`` / ``delete``."""


class UnknownIds(InvalidArgument, LookupError, InternalError):
    """``query(ids=...)`` naming ids the collection does not hold; Chroma 1.5 raises ``InternalError`` ("Error
    finding id"), hence the base."""


class UnsupportedFilter(InvalidArgument):
    """A ``where`` / ``where_document`` filter, or part of one, that the store does not translate.

    Raised instead of ignoring the part: a filter is never silently weakened.
    """


class InvalidRecord(InvalidArgument):
    """A record to write that Chroma would refuse, or that PostgreSQL cannot hold exactly."""


class DimensionMismatch(InvalidArgument):
    """An embedding whose length differs from the collection's."""


class CollectionNotFound(StoreError, LookupError, NotFoundError):
    """A collection that neither the registry nor the store knows."""


class QueryTimeout(StoreError):
    """A statement that ran past the service's ``statement_timeout`` and was cancelled by PostgreSQL."""


class PoolExhausted(StoreError):
    """Every connection the service may hold was busy for longer than it may wait for one."""
