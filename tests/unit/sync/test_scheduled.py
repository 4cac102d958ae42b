"""A chroma_sync run's Params: the source, collections and batch as `vectorops sync` takes them, plus cutover;
and the store a registry row's source_uri names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vectorops.chroma.source import SourceSpec
from vectorops.errors import RequestError, SettingError
from vectorops.sync.scheduled import RunParams, SyncJob, job_source, run_params

DAG_DEFAULTS = {"chroma_path": None, "chroma_host": None, "chroma_port": 8000, "chroma_conn": None,
                "collections": [], "target_schema": None, "batch_size": 5000, "cutover": False}


def test_default_params_sync_what_the_registry_says(settings: Any) -> None:
    assert run_params(DAG_DEFAULTS, settings) == RunParams(None, (), None, 5000, False)


def test_named_collections_are_read_from_the_named_source(settings: Any, tmp_path: Path) -> None:
    run = run_params({**DAG_DEFAULTS, "chroma_path": str(tmp_path), "collections": ["a", "b"],
                      "target_schema": "vec", "batch_size": 40}, settings)
    assert run == RunParams(SourceSpec(path=str(tmp_path)), ("a", "b"), "vec", 40, False)


@pytest.mark.parametrize(("params", "message"), [
    ({"cutover": True}, "cutover=true needs the collections to cut over named"),
    ({"cutover": "yes"}, "cutover='yes' must be true or false"),
    ({"batch_size": 0}, "batch_size=0 must be a whole number"),
    ({"reembed": "always"}, r"unknown parameter\(s\) 'reembed'"),
])
def test_bad_params_are_refused_naming_the_parameter(settings: Any, params: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        run_params({**DAG_DEFAULTS, **params}, settings)


def test_a_registry_file_uri_is_read_as_that_store(tmp_path: Path) -> None:
    uri = SourceSpec(path=str(tmp_path)).uri
    source = job_source(SyncJob("docs", uri), RunParams(None, (), None, 10, False))
    assert source.uri == uri and source.path == str(tmp_path.resolve())


def test_a_server_reached_without_a_connection_is_read_from_its_uri() -> None:
    source = job_source(SyncJob("docs", "chroma+https://chroma:8443"), RunParams(None, (), None, 10, False))
    assert (source.host, source.port, source.ssl) == ("chroma", 8443, True)


def test_a_server_read_through_a_connection_is_reached_through_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CHROMA_PROD", '{"conn_type": "chroma", "host": "chroma", "port": 8000}')
    source = job_source(SyncJob("docs", "chroma+http://chroma:8000", "chroma_prod"), RunParams(None, (), None, 10,
                                                                                             False))
    assert source.conn_id == "chroma_prod" and source.uri == "chroma+http://chroma:8000"
    with pytest.raises(RequestError, match=r"^collection 'docs' was migrated from chroma\+http://other:8000 through "
                                           r"connection 'chroma_prod', which now points at") as caught:
        job_source(SyncJob("docs", "chroma+http://other:8000", "chroma_prod"), RunParams(None, (), None, 10, False))
    assert "\n" not in str(caught.value)


def test_a_source_a_scheduled_run_cannot_reach_is_refused_in_one_line() -> None:
    with pytest.raises(RequestError, match=r"^collection 'docs' was migrated from chroma\+http://chroma, .* "
                                           r"chroma_conn") as caught:
        job_source(SyncJob("docs", "chroma+http://chroma"), RunParams(None, (), None, 10, False))
    assert "\n" not in str(caught.value)


def test_the_params_source_is_used_for_its_own_collections() -> None:
    server = SourceSpec(host="chroma", port=8000, conn_id="chroma_prod")
    assert job_source(SyncJob("docs", server.uri), RunParams(server, ("docs",), None, 10, False)) is server
