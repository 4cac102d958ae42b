"""A migration request: DAG params or CLI arguments, validated before any work starts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vectorops.chroma import preflight, server
from vectorops.chroma import source as chroma_source
from vectorops.chroma.source import SourceSpec
from vectorops.config import Settings
from vectorops.db.ownership import NotCreatedByVectorops
from vectorops.errors import RequestError, SettingError, SourceError
from vectorops.load.index_kinds import KINDS as INDEX_KINDS
from vectorops.load.index_kinds import check_kind
from vectorops.naming import check_schema_name

REEMBED_MODES = ("auto", "always", "never")
#: what happens to a collection's table in another schema, when the collection is migrated into a new one
PREVIOUS_TABLE_CHOICES = ("refuse", "keep", "drop")
MAX_BATCH_SIZE = 100_000
#: what refuses a request before any work starts: a parameter or setting, the source, or a target vectorops may not
#: write. Nothing else (a bug, a value PostgreSQL cannot hold, an outage) is reported as a refusal.
REFUSALS: tuple[type[Exception], ...] = (RequestError, NotCreatedByVectorops)


@dataclass(frozen=True)
class MigrationRequest:
    """A validated migration request, from DAG params or CLI arguments."""

    source: SourceSpec
    collections: tuple[str, ...]
    reembed: str
    target_schema: str
    batch_size: int
    dry_run: bool
    previous_table: str = "refuse"
    index: str = "hnsw"


PARAMS = ("chroma_path", "chroma_host", "chroma_port", "chroma_conn", "collections", "reembed", "target_schema",
          "batch_size", "dry_run", "previous_table", "index")
__all__ = ["INDEX_KINDS", "MAX_BATCH_SIZE", "PARAMS", "PREVIOUS_TABLE_CHOICES", "REEMBED_MODES", "REFUSALS",
           "MigrationRequest", "request_from_params", "select_collections"]


def _text(params: Mapping[str, Any], name: str) -> str | None:
    """A text parameter, stripped; ``None`` when absent or empty."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SettingError(f"{name}={value!r} must be a string")
    return value.strip() or None


def _integer(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    value = default if value is None else value
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SettingError(f"{name}={value!r} must be an integer from {low} to {high}")
    return value


def _collections(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [c.strip() for c in value.split(",") if c.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(c, str) and c for c in value):
        raise SettingError(f"collections={value!r} must be a list of collection names")
    return tuple(dict.fromkeys(value))


def _schema(name: str) -> str:
    try:
        return check_schema_name(name)
    except ValueError as exc:  # naming raises the builtin for every caller; here it is a parameter's value
        raise SettingError(str(exc)) from exc


def request_from_params(params: Mapping[str, Any], settings: Settings) -> MigrationRequest:
    """Validate DAG params (or CLI arguments in the same shape) before any work starts.

    :param params: the DAG params or CLI arguments (:data:`PARAMS`).
    :param settings: the settings they complete (``CHROMA_DB_PATH``, the fetch batch).
    :raises SettingError: naming the parameter and what is wrong with it.
    :raises SourceError: when ``chroma_conn`` names a connection that is not defined or not usable.
    """
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise SettingError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; known: {', '.join(PARAMS)}")
    conn_id = _text(params, "chroma_conn")
    host = _text(params, "chroma_host")
    path = _text(params, "chroma_path") or settings.chroma_path
    port = _integer(params, "chroma_port", 8000, 1, 65535)
    if conn_id and host:
        raise SettingError(f"chroma_conn={conn_id!r} and chroma_host={host!r}: give one (the connection holds the "
                           "host)")
    if not conn_id and not host and not path:
        raise SettingError("chroma_path is empty and CHROMA_DB_PATH is not set: say where the Chroma store is")
    if conn_id:  # host, port, HTTPS, tenant and database; the secrets stay in the connection
        source = server.source_from_connection(conn_id)
    else:
        source = SourceSpec(path=None if host else path, host=host, port=port)
    reembed = params.get("reembed") or "never"
    if reembed not in REEMBED_MODES:
        raise SettingError(f"reembed={reembed!r} is not one of {', '.join(REEMBED_MODES)}")
    dry_run = params.get("dry_run")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise SettingError(f"dry_run={dry_run!r} must be true or false")
    previous_table = params.get("previous_table") or "refuse"
    if previous_table not in PREVIOUS_TABLE_CHOICES:
        raise SettingError(f"previous_table={previous_table!r} is not one of {', '.join(PREVIOUS_TABLE_CHOICES)}")
    try:
        index = check_kind("hnsw" if params.get("index") is None else params["index"])
    except ValueError as exc:  # index_kinds raises the builtin for every caller; here it is a parameter's value
        raise SettingError(str(exc)) from exc
    schema = params.get("target_schema")
    if schema is not None and not isinstance(schema, str):
        raise SettingError(f"target_schema={schema!r} must be a string")
    return MigrationRequest(
        source=source,
        collections=_collections(params.get("collections")),
        reembed=reembed,
        target_schema=_schema(schema or "vectors"),
        batch_size=_integer(params, "batch_size", settings.fetch_batch, 1, MAX_BATCH_SIZE),
        dry_run=bool(dry_run),
        previous_table=previous_table,
        index=index,
    )


def select_collections(request: MigrationRequest) -> list[str]:
    """The collections to migrate, as labels (``name``, or ``tenant/database/name`` outside Chroma's defaults):
    those asked for, or every collection in every tenant and database.

    A collection is asked for by ``tenant/database/name``, or by its bare name when no other tenant or database
    holds one of that name.

    A local store is checked page by page first, so a damaged one fails here, before any work starts.

    :raises SourceError: naming unknown or ambiguous collections and the candidates, or what is wrong with the
        store.
    """
    if request.source.path:
        preflight.check_local_store(request.source.path, thorough=True)
    known = chroma_source.list_collections(request.source)
    if not request.collections:
        return [ref.label for ref in known]
    chosen: list[str] = []
    unknown: list[str] = []
    for asked in request.collections:
        matches = [ref for ref in known if asked in (ref.path, ref.label)] if "/" in asked else [
            ref for ref in known if ref.name == asked]
        if not matches:
            unknown.append(asked)
        elif len(matches) > 1:
            raise SourceError(f"collection {asked!r} is ambiguous in {request.source.uri}: "
                              f"{', '.join(ref.path for ref in matches)}; ask for one as tenant/database/name")
        elif matches[0].label not in chosen:
            chosen.append(matches[0].label)
    if unknown:
        names = [ref.name for ref in known]
        listed = ", ".join(repr(ref.name if names.count(ref.name) == 1 else ref.path) for ref in known) or "none"
        raise SourceError(f"unknown collection(s) {', '.join(map(repr, unknown))} in {request.source.uri}; "
                          f"collections: {listed}")
    return chosen
