"""The store's exceptions: every one is a :class:`ValueError`, as Chroma's own argument errors are."""

from __future__ import annotations

from vectorops.errors import VectoropsError


class StoreError(VectoropsError, ValueError):
    """A request the store cannot serve as asked; the message says what and why."""


class UnsupportedFilter(StoreError):
    """A ``where`` / ``where_document`` filter, or part of one, that the store does not translate.

    Raised instead of ignoring the part: a filter is never silently weakened.
    """


class InvalidRecord(StoreError):
    """A record to write that Chroma would refuse, or that PostgreSQL cannot hold exactly."""


class DimensionMismatch(StoreError):
    """An embedding whose length differs from the collection's."""


class CollectionNotFound(StoreError, LookupError):
    """A collection that neither the registry nor the store knows."""


class QueryTimeout(StoreError):
    """A statement that ran past the service's ``statement_timeout`` and was cancelled by PostgreSQL."""


class PoolExhausted(StoreError):
    """Every connection the service may hold was busy for longer than it may wait for one."""
