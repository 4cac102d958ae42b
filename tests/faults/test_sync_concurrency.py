"""`vectorops sync` beside another sync, a cutover, or a migration of the same collection: one at a time, the
others refused in one line naming why, and nothing applied twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.test_sync_signals import SCHEMA, _change, _converged, _migrated, _runs, _sync, _wait_for
from tests.support import registry_row
from vectorops.chroma import locate
from vectorops.chroma.source import SourceSpec
from vectorops.errors import CollectionBusy
from vectorops.migration import request as migration_request
from vectorops.migration import steps
from vectorops.sync import run as sync_run
from vectorops.sync.cutover import cutover
from vectorops.sync.request import SyncRequest
from vectorops.sync.target import select_targets


def test_a_second_sync_and_a_cutover_during_a_sync_are_refused_and_the_first_finishes(settings: Any, dsn: str,
                                                                                      tmp_path: Path) -> None:
    name = "sync-beside"
    collection = _migrated(settings, tmp_path, name)
    _change(collection, 1)
    first = _sync(tmp_path, name, dsn)
    _wait_for(lambda: any(r[0] == "running" and r[1] is not None for r in _runs(dsn, name)), "a committed batch")
    # in this process, not through the CLI: a second `vectorops` command's bootstrap DDL can deadlock with the
    # running sync's batch transaction (reported; db/bootstrap is not sync's)
    spec = SourceSpec(path=str(tmp_path))
    [second] = sync_run.sync_all(dsn, SyncRequest(spec, (name,), SCHEMA, 50))
    with psycopg.connect(dsn, autocommit=True) as conn:
        [target] = select_targets(conn, spec.uri, (name,), SCHEMA)
        with pytest.raises(CollectionBusy) as cut:
            cutover(conn, spec, target, 50)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, (out, err)
    busy = f"collection {name!r} is being synced by another process; try again when it ends"
    assert second == sync_run.SyncFailure(name, f"CollectionBusy: {busy}") and str(cut.value) == busy
    assert [r[0] for r in _runs(dsn, name)] == ["done"]  # the refusals recorded no run
    assert registry_row(dsn, name)["sync_state"] == "syncing"
    _converged(dsn, tmp_path, name)


def test_a_sync_during_a_migration_of_the_collection_is_refused_until_it_is_promoted(settings: Any, dsn: str,
                                                                                     tmp_path: Path) -> None:
    name = "sync-during-migration"
    collection = _migrated(settings, tmp_path, name)
    _change(collection, 1)
    locate.forget_files()
    request = migration_request.request_from_params(
        {"chroma_path": str(tmp_path), "target_schema": SCHEMA, "collections": [name]}, settings)
    plan = steps.prepare(settings, request, name, "during-migration")  # staged and claimed, not loaded yet
    sync_request = SyncRequest(SourceSpec(path=str(tmp_path)), (name,), SCHEMA, 50)
    [refused] = sync_run.sync_all(dsn, sync_request)
    assert isinstance(refused, sync_run.SyncFailure), refused
    assert refused.error.startswith(f"CollectionBusy: collection {name!r} has a migration that has not finished "
                                    f"(attempt {plan.attempt_id}, loading, last heard of at "), refused.error
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.sync_runs WHERE collection = %s", (name,)).fetchone() \
            == (0,)
    for chunk_no in plan.chunks:
        steps.load(settings, plan, chunk_no)
    assert steps.finalize(settings, plan)["validation"] == "passed"
    [synced] = sync_run.sync_all(dsn, sync_request)
    assert isinstance(synced, sync_run.SyncResult) and synced.in_parity
    assert (synced.added, synced.updated, synced.deleted) == (0, 0, 0)  # the new snapshot already holds them
    _converged(dsn, tmp_path, name)
