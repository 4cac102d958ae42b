"""What a failure of Chroma's API becomes: one :class:`~vectorops.errors.SourceError` naming the collection, the
store and what to fix (a server's failure names the setting, by :func:`vectorops.chroma.server.source_error`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vectorops.chroma import preflight
from vectorops.chroma.preflight import CollectionRef, SourceSpec, as_ref
from vectorops.errors import SourceError


@contextmanager
def api_errors(spec: SourceSpec, name: CollectionRef | str, doing: str) -> Iterator[None]:
    """Turn a failure of Chroma's API into one :class:`SourceError` naming the collection and what it was doing.

    :param spec: the source.
    :param name: the collection.
    :param doing: what the API was asked to do, for the message (``"count and sample its records"``).
    """
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:
        ref = as_ref(name)
        if spec.host:
            from vectorops.chroma import server

            raise server.source_error(spec, exc, ref.tenant, ref.database) from None
        raise SourceError(f"collection {ref.label!r} of {spec.uri}: Chroma's API (chromadb, on a private copy of the "
                          f"store) failed to {doing}: {type(exc).__name__}: {exc}") from None


def unreadable(spec: SourceSpec, what: str, exc: Exception) -> SourceError:
    """The error for a local store the installed chromadb cannot read (most likely another Chroma wrote it).

    :param spec: the source.
    :param what: what could not be read, for the message (``"collection 'docs'"``).
    :param exc: chromadb's error.
    """
    version = preflight.chromadb_version()
    return SourceError(f"{what} in {spec.uri} cannot be read by chromadb {version} ({type(exc).__name__}: {exc}); "
                       f"was it written by another Chroma version? Migrate it with a vectorops whose chromadb "
                       "matches the Chroma that wrote it")
