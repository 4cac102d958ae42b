"""A migration request: DAG params or CLI arguments, validated before any work starts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vectorops import chroma_source
from vectorops.chroma_source import SourceError, SourceSpec
from vectorops.config import Settings
from vectorops.naming import check_schema_name

REEMBED_MODES = ("auto", "always", "never")
MAX_BATCH_SIZE = 100_000


@dataclass(frozen=True)
class MigrationRequest:
    """A validated migration request, from DAG params or CLI arguments."""

    source: SourceSpec
    collections: tuple[str, ...]
    reembed: str
    target_schema: str
    batch_size: int
    dry_run: bool


def request_from_params(params: Mapping[str, Any], settings: Settings) -> MigrationRequest:
    """Validate DAG params (or CLI arguments in the same shape) before any work starts.

    :raises ValueError: naming the parameter and what is wrong with it.
    """
    host = (params.get("chroma_host") or "").strip() or None
    path = (params.get("chroma_path") or "").strip() or settings.chroma_path
    port = params.get("chroma_port") or 8000
    if not host and not path:
        raise ValueError("chroma_path is empty and CHROMA_DB_PATH is not set: say where the Chroma store is")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValueError(f"chroma_port={port!r} must be an integer from 1 to 65535")
    reembed = params.get("reembed") or "never"
    if reembed not in REEMBED_MODES:
        raise ValueError(f"reembed={reembed!r} is not one of {', '.join(REEMBED_MODES)}")
    batch_size = params.get("batch_size", settings.fetch_batch)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size={batch_size!r} must be an integer from 1 to {MAX_BATCH_SIZE}")
    collections = params.get("collections") or []
    if isinstance(collections, str):
        collections = [c.strip() for c in collections.split(",") if c.strip()]
    if not all(isinstance(c, str) and c for c in collections):
        raise ValueError(f"collections={collections!r} must be a list of collection names")
    return MigrationRequest(
        source=SourceSpec(path=None if host else path, host=host, port=port),
        collections=tuple(dict.fromkeys(collections)),
        reembed=reembed,
        target_schema=check_schema_name(params.get("target_schema") or "vectors"),
        batch_size=batch_size,
        dry_run=bool(params.get("dry_run", False)),
    )


def select_collections(request: MigrationRequest) -> list[str]:
    """The collections to migrate: those asked for (all must exist), or all of them.

    :raises SourceError: naming unknown collections and the ones that exist.
    """
    known = chroma_source.collection_names(request.source)
    if not request.collections:
        return known
    unknown = [c for c in request.collections if c not in known]
    if unknown:
        raise SourceError(f"unknown collection(s) {', '.join(map(repr, unknown))} in {request.source.uri}; "
                          f"collections: {', '.join(map(repr, known)) or 'none'}")
    return list(request.collections)
