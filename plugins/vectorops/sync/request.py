"""A sync request: DAG params or CLI arguments, validated before any work starts (as a migration's are)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vectorops.chroma.source import SourceSpec
from vectorops.config import Settings
from vectorops.errors import SettingError
from vectorops.migration.request import request_from_params

PARAMS = ("chroma_path", "chroma_host", "chroma_port", "chroma_conn", "collections", "target_schema", "batch_size")


@dataclass(frozen=True)
class SyncRequest:
    """What to sync: the migrated collections of ``source`` (those named, or all), in ``schema`` (or any)."""

    source: SourceSpec
    collections: tuple[str, ...]
    schema: str | None
    batch_size: int


def sync_request(params: Mapping[str, Any], settings: Settings) -> SyncRequest:
    """Validate sync params: the source, collections and batch size exactly as a migration takes them.

    :param params: DAG params or CLI arguments (:data:`PARAMS`).
    :param settings: the settings they complete (``CHROMA_DB_PATH``, the fetch batch).
    :raises SettingError: naming the parameter and what is wrong with it.
    """
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise SettingError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; known: {', '.join(PARAMS)}")
    given = {k: v for k, v in params.items() if v is not None}
    request = request_from_params(given, settings)
    return SyncRequest(request.source, request.collections,
                       request.target_schema if given.get("target_schema") else None, request.batch_size)
