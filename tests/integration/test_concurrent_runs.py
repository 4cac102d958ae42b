"""Two runs of one collection: exactly one writes, the other is told who holds it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.support import add_records, chroma_client, chroma_digest, pg_digest
from vectorops.migration import claims, steps
from vectorops.migration.request import request_from_params
from vectorops.naming import table_name_for


@pytest.fixture()
def store(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str]:
    name = f"shared-{request.node.name.split('_')[1]}-{request.node.name.split('_')[2]}"
    col = chroma_client(tmp_path).create_collection(name)
    add_records(col, [f"s{i}" for i in range(500)], np.random.default_rng(1).standard_normal((500, 8),
                                                                                          dtype=np.float32))
    return tmp_path, name


def test_second_run_is_refused_while_the_first_is_alive_and_takes_over_after_it_dies(
        store: tuple[Path, str], settings: Any, dsn: str) -> None:
    path, name = store
    request = request_from_params({"chroma_path": str(path), "target_schema": "concurrent"}, settings)
    with claims.owner_token_held(dsn):
        first_plan = steps.prepare(settings, request, name, "run-A")
        os.environ.pop("VECTOROPS_OWNER_TOKEN")
        with pytest.raises(claims.CollectionBusy, match="being migrated by run run-A"):
            steps.prepare(settings, request, name, "run-B")
    # run A's process is gone (its owner token is released): run B adopts A's attempt and finishes it
    second_plan = steps.prepare(settings, request, name, "run-B")
    assert second_plan.attempt_id == first_plan.attempt_id
    assert second_plan.resumed_from_run == "run-A"
    with pytest.raises(claims.CollectionBusy, match="no longer claimed"):
        steps.load(settings, dataclasses.replace(first_plan, attempt_id="deadbeef"), 0)
    for chunk_no in second_plan.chunks:
        steps.load(settings, second_plan, chunk_no)
    steps.finalize(settings, second_plan)
    assert chroma_digest(path, name) == pg_digest(dsn, "concurrent", table_name_for(name))


def test_an_airflow_claim_blocks_until_its_heartbeat_goes_stale(store: tuple[Path, str], settings: Any,
                                                                dsn: str) -> None:
    path, name = store
    request = request_from_params({"chroma_path": str(path), "target_schema": "concurrent2"}, settings)
    steps.prepare(settings, request, name, "airflow-run-1")
    with pytest.raises(claims.CollectionBusy, match="airflow-run-1"):
        steps.prepare(settings, request, name, "airflow-run-2")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("""UPDATE vectorops.migration_runs SET heartbeat_at = now() - interval '1 hour'
                        WHERE run_id = 'airflow-run-1'""")
    plan = steps.prepare(settings, request, name, "airflow-run-2")
    assert plan.resumed_from_run == "airflow-run-1"


def test_a_writer_holding_the_live_lock_keeps_even_a_stale_claim(store: tuple[Path, str], settings: Any,
                                                                  dsn: str) -> None:
    path, name = store
    request = request_from_params({"chroma_path": str(path), "target_schema": "concurrent3"}, settings)
    steps.prepare(settings, request, name, "writer-run")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE vectorops.migration_runs SET heartbeat_at = now() - interval '1 hour' "
                     "WHERE run_id = 'writer-run'")
        with claims.holding_live_lock(conn, name), pytest.raises(claims.CollectionBusy, match="writer-run"):
            steps.prepare(settings, request, name, "intruder-run")
