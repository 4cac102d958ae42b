"""What a ``chroma_sync`` run syncs: the collections it was asked for, else every collection in state ``syncing``,
each with the source it is read from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg

from vectorops.chroma.server import source_from_connection
from vectorops.chroma.source import SourceSpec
from vectorops.config import Settings
from vectorops.db.sql_files import sql_text
from vectorops.errors import RequestError, SettingError
from vectorops.sync.request import PARAMS, sync_request
from vectorops.sync.target import select_targets

FILE_SCHEME = "chroma+file://"
HTTP_SCHEMES = ("chroma+http", "chroma+https")
#: params that name a source; without one (and without collections) a run syncs what the registry says
SOURCE_PARAMS = ("chroma_path", "chroma_host", "chroma_conn")


@dataclass(frozen=True)
class SyncJob:
    """One collection a run syncs, the registry's ``source_uri`` of the store it is read from, and the Airflow
    connection a server was read through (``None`` for a local store, or a server reached without one)."""

    collection: str
    source_uri: str
    conn_id: str | None = None


@dataclass(frozen=True)
class RunParams:
    """A ``chroma_sync`` run's Params, validated.

    :param source: the source the Params name (``None``: each collection's own, from the registry).
    :param collections: the collections named (empty: those in state ``syncing``).
    :param cutover: cut the collections over instead of syncing them.
    """

    source: SourceSpec | None
    collections: tuple[str, ...]
    schema: str | None
    batch_size: int
    cutover: bool


def run_params(params: Mapping[str, Any], settings: Settings) -> RunParams:
    """Validate a run's Params: the source, collections and batch size as ``vectorops sync`` takes them, plus
    ``cutover``.

    :param params: the run's Params (:data:`~vectorops.sync.request.PARAMS` and ``cutover``).
    :param settings: the settings they complete.
    :raises SettingError: naming the parameter and what is wrong with it; ``cutover`` without named collections.
    """
    cutover = params.get("cutover") or False
    if not isinstance(cutover, bool):
        raise SettingError(f"cutover={cutover!r} must be true or false")
    source_params = {k: v for k, v in params.items() if k != "cutover"}
    given = {k: v for k, v in source_params.items() if k in PARAMS and v not in (None, "", [])}
    if cutover and not given.get("collections"):
        raise SettingError("cutover=true needs the collections to cut over named in 'collections' (pause their "
                           "writers for the window first)")
    if given.get("collections") or any(given.get(k) for k in SOURCE_PARAMS):
        request = sync_request(source_params, settings)
        return RunParams(request.source, request.collections, request.schema, request.batch_size, cutover)
    unknown = sorted(set(source_params) - set(PARAMS))
    if unknown:
        raise SettingError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; known: {', '.join(PARAMS)}, "
                           "cutover")
    batch = source_params.get("batch_size")
    batch = settings.fetch_batch if batch is None else batch
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SettingError(f"batch_size={batch!r} must be a whole number of at least 1")
    schema = source_params.get("target_schema") or None
    return RunParams(None, (), schema, batch, False)


def sync_jobs(conn: psycopg.Connection, run: RunParams) -> list[SyncJob]:
    """The collections ``run`` syncs: those it names (migrated from its source), else those in state ``syncing``
    (of its source when it names one, else of every source).

    :param conn: a connection to the vectors database.
    :param run: the validated Params.
    :raises RequestError: naming collections asked for and not migrated from the source.
    """
    if run.collections and run.source is not None:
        targets = select_targets(conn, run.source.uri, run.collections, run.schema)
        return [SyncJob(t.key, t.source_uri) for t in targets]
    rows = conn.execute(sql_text("sync/select_syncing_collections"), {
        "source_uri": run.source.uri if run.source is not None else None, "schema": run.schema}).fetchall()
    return [SyncJob(str(key), str(uri), conn_id) for key, uri, conn_id in rows]


def job_source(job: SyncJob, run: RunParams) -> SourceSpec:
    """The store ``job`` is read from: the Params' source when they name it, else the one its registry row records.

    :raises RequestError: when the registry records a Chroma server: its credentials live in a connection or in the
        Params, which a scheduled run does not have.
    """
    if run.source is not None and run.source.uri == job.source_uri:
        return run.source
    if job.source_uri.startswith(FILE_SCHEME):
        return SourceSpec(path=job.source_uri[len(FILE_SCHEME):])
    if job.conn_id:  # its credentials stay in the connection, as when it was migrated
        spec = source_from_connection(job.conn_id)
        if spec.uri == job.source_uri:
            return spec
        raise RequestError(f"collection {job.collection!r} was migrated from {job.source_uri} through connection "
                           f"{job.conn_id!r}, which now points at {spec.uri}; trigger chroma_sync with the "
                           "connection that reaches the collection's server")
    found = urlsplit(job.source_uri)
    if found.scheme in HTTP_SCHEMES and found.hostname and found.port:  # a server reached without a connection
        return SourceSpec(host=found.hostname, port=found.port, ssl=found.scheme == "chroma+https")
    raise RequestError(f"collection {job.collection!r} was migrated from {job.source_uri}, which a scheduled run "
                       "cannot reach; trigger chroma_sync with its chroma_conn (or chroma_host) and the collection "
                       "named")
