"""The scheduled DAGs on a platform where nothing was migrated yet: each run skips its tasks, saying why, instead of
backing up, probing, validating or maintaining nothing (at start-up all of them are due at once)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.alert_receivers import use_webhook

EMPTY_DB = "vectorops_empty_registry"
SCHEDULED = ("pgvector_backup", "pgvector_search_monitor", "pgvector_maintenance", "pgvector_data_quality",
             "chroma_sync")


@pytest.fixture(scope="module")
def empty_platform(settings: Any, dsn: str) -> Iterator[str]:
    """A second vectors database, bootstrapped, whose registry is empty; dropped afterwards."""
    from vectorops.db.bootstrap import bootstrap

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(EMPTY_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(EMPTY_DB)))
    external = dsn.rsplit("/", 1)[0] + f"/{EMPTY_DB}"
    bootstrap(replace(settings, external_dsn=external))
    yield external
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(EMPTY_DB)))


@pytest.mark.parametrize("dag_id", SCHEDULED)
def test_a_scheduled_dag_skips_cleanly_on_an_empty_registry(dag_id: str, empty_platform: str,
                                                            airflow_db: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                            http_receiver: Any) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    monkeypatch.setenv("VECTOROPS_DSN", empty_platform)  # every role's DSN is taken from it (db/dsn)
    use_webhook(monkeypatch, http_receiver.url(f"/{dag_id}"))
    run = load_dag(dag_id).test()
    assert str(run.state) == "success"
    with create_session() as session:
        states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances(session=session)}
    assert states and set(states.values()) == {"skipped"}, states
    assert http_receiver.posts == []  # no "backup too old", no alert of any kind
    with psycopg.connect(empty_platform) as conn:
        for table in ("backups", "search_metrics", "maintenance_log", "validation_results", "sync_runs"):
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("vectorops", table)))
            assert count.fetchone() == (0,), table


def test_the_heavy_pool_is_created_with_the_metadata_database_and_comes_back_after_a_delete(
        airflow_db: dict[str, str]) -> None:
    from airflow.models.pool import Pool

    from vectorops.airflow.env import ensure_heavy_pool
    from vectorops.airflow.pools import HEAVY_POOL, HEAVY_POOL_DESCRIPTION

    pool = Pool.get_pool(HEAVY_POOL)  # created by migrate_metadata, as `vectorops run` and dag.test() prepare it
    assert pool is not None and (pool.slots, pool.description) == (1, HEAVY_POOL_DESCRIPTION)
    Pool.delete_pool(HEAVY_POOL)  # as an operator may in the UI; `vectorops run` sets it again at its next start
    try:
        assert Pool.get_pool(HEAVY_POOL) is None
        ensure_heavy_pool(airflow_db)
        again = Pool.get_pool(HEAVY_POOL)
        assert again is not None and again.slots == 1
    finally:  # the later modules' scheduler (e2e) needs it
        Pool.create_or_update_pool(HEAVY_POOL, 1, HEAVY_POOL_DESCRIPTION, include_deferred=False)


def test_a_run_naming_collections_on_an_empty_registry_fails_at_once_instead_of_skipping(
        empty_platform: str, airflow_db: dict[str, str], monkeypatch: pytest.MonkeyPatch, http_receiver: Any) -> None:
    from airflow.utils.session import create_session

    from vectorops.airflow.run import load_dag

    monkeypatch.setenv("VECTOROPS_DSN", empty_platform)
    use_webhook(monkeypatch, http_receiver.url("/named"))
    run = load_dag("pgvector_data_quality").test(run_conf={"collections": ["docs"]})
    assert str(run.state) == "failed"
    with create_session() as session:
        states = {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances(session=session)}
    assert states["list_migrated"] == ("failed", 1)  # named, so not "nothing to do yet"; not retried
    assert states["validate_table"][0] == "upstream_failed"
    [alert] = [p.json() for p in http_receiver.posts]  # the failure callback's, with the one-line reason
    assert (alert["event"], alert["task_id"]) == ("task_failed", "list_migrated")
    assert "Param 'collections': 'docs' not found; there are: none" in alert["message"]
