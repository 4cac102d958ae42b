"""Params and settings are validated before any work starts, with messages that name the culprit."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from psycopg import sql

from vectorops.config import load_settings
from vectorops.db.ownership import NotCreatedByVectorops
from vectorops.errors import (
    CollectionBusy,
    DataError,
    IncompleteMigration,
    SettingError,
    SourceChanged,
    SourceError,
    TargetRefused,
    UnstorableValue,
)
from vectorops.migration.request import REFUSALS, request_from_params, select_collections
from vectorops.records import checked_fields


@pytest.fixture()
def settings():
    return dataclasses.replace(load_settings(), chroma_path=None)


@pytest.mark.parametrize(("params", "message"), [
    ({"chroma_path": "/x", "batch_size": 0}, "batch_size=0"),
    ({"chroma_path": "/x", "batch_size": "10"}, "batch_size='10'"),
    ({"chroma_path": "/x", "batch_size": -5}, "batch_size=-5"),
    ({"chroma_path": "/x", "batch_size": 100_001}, "batch_size=100001"),
    ({"chroma_path": "/x", "batch_size": 2.5}, "batch_size=2.5"),
    ({"chroma_path": "/x", "batch_size": True}, "batch_size=True"),
    ({"chroma_path": "/x", "reembed": "sometimes"}, "reembed='sometimes'"),
    ({"chroma_path": "/x", "reembed": "AUTO"}, "reembed='AUTO'"),
    ({"chroma_path": "/x", "reembed": ["auto"]}, "reembed="),
    ({"chroma_path": "/x", "target_schema": "a;b"}, "target_schema"),
    ({"chroma_path": "/x", "target_schema": 5}, "target_schema=5"),
    ({"chroma_path": "/x", "target_schema": ["vectors"]}, "target_schema"),
    ({"chroma_path": "/x", "collections": [""]}, "collections"),
    ({"chroma_path": "/x", "collections": 5}, "collections=5"),
    ({"chroma_path": "/x", "collections": [1]}, "collections"),
    ({"chroma_path": "/x", "dry_run": "false"}, "dry_run='false'"),
    ({"chroma_path": "/x", "dry_run": 1}, "dry_run=1"),
    ({"chroma_path": 5}, "chroma_path=5"),
    ({"chroma_host": ["h"]}, "chroma_host"),
    ({"chroma_host": "h", "chroma_port": 70000}, "chroma_port"),
    ({"chroma_host": "h", "chroma_port": 0}, "chroma_port=0"),
    ({"chroma_host": "h", "chroma_port": "8000"}, "chroma_port='8000'"),
    ({"chroma_path": "/x", "batchsize": 10}, "unknown parameter.*'batchsize'"),
    ({}, "CHROMA_DB_PATH"),
])
def test_bad_params_are_rejected_with_their_name(settings, params: dict, message: str) -> None:
    with pytest.raises(SettingError, match=message.replace("(", r"\(")):
        request_from_params(params, settings)


@pytest.mark.parametrize("schema", ["x; DROP TABLE y", '"quoted"', 'vectors"; DROP SCHEMA public CASCADE; --',
                                    "Vectors", "vectors ", "a b", "a-b", "a.b", "pg_toast", "information_schema",
                                    "vectorops", "ünïcode", "1abc", "a" * 64, "x\x00y", "vectors\n"])
def test_a_schema_name_that_is_sql_is_rejected_naming_the_setting(settings, schema: str) -> None:
    with pytest.raises(SettingError, match="target_schema"):
        request_from_params({"chroma_path": "/x", "target_schema": schema}, settings)


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=80), st.from_regex(r"[a-z_][a-z0-9_]{0,62}", fullmatch=True)))
def test_any_accepted_schema_is_a_plain_identifier(settings, schema: str) -> None:
    try:
        request = request_from_params({"chroma_path": "/x", "target_schema": schema}, settings)
    except ValueError as exc:
        assert "target_schema" in str(exc)
        return
    accepted = request.target_schema
    assert accepted == (schema or "vectors")
    assert re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", accepted)
    assert sql.Identifier(accepted).as_string() == f'"{accepted}"'


def test_good_params_normalise(settings) -> None:
    request = request_from_params({"chroma_path": "/data/chroma", "collections": "a, b,a", "batch_size": 100},
                                  settings)
    assert request.collections == ("a", "b") and request.reembed == "never"
    assert request.source.uri == "chroma+file:///data/chroma"
    http = request_from_params({"chroma_host": "chroma.internal", "chroma_port": 8001}, settings)
    assert http.source.uri == "chroma+http://chroma.internal:8001" and http.source.path is None


@pytest.mark.parametrize(("name", "value"), [("VECTOROPS_DB_PORT", "abc"), ("VECTOROPS_CHUNK_ROWS", "0"),
                                             ("VECTOROPS_DB_PORT", "80")])
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=name):
        load_settings()


def _raised(action) -> Exception:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


def test_what_the_request_checks_raise_is_a_refusal(settings, tmp_path) -> None:
    bad_param = _raised(lambda: request_from_params({"chroma_path": "/x", "batch_size": 0}, settings))
    bad_schema = _raised(lambda: request_from_params({"chroma_path": "/x", "target_schema": "a;b"}, settings))
    no_store = _raised(lambda: select_collections(request_from_params({"chroma_path": str(tmp_path / "none")},
                                                                      settings)))
    assert isinstance(bad_param, SettingError) and isinstance(bad_schema, SettingError)
    assert isinstance(no_store, SourceError) and "does not exist" in str(no_store)
    for refusal in (bad_param, bad_schema, no_store, TargetRefused("t"), NotCreatedByVectorops("n"),
                    SourceChanged("c")):
        assert isinstance(refusal, REFUSALS), refusal


def test_a_stray_error_is_not_a_refusal(settings) -> None:
    """Only a refusal is reported as "Rejected before any work": a value PostgreSQL cannot hold, a bug or an outage
    in the planning is an error of its own (it was, while plan_request caught every ValueError)."""
    unstorable = _raised(lambda: checked_fields("id\x00", None, None, None))
    assert isinstance(unstorable, UnstorableValue) and isinstance(unstorable, ValueError)
    bug = _raised(lambda: request_from_params(None, settings))  # type: ignore[arg-type]
    assert isinstance(bug, TypeError)
    for stray in (unstorable, bug, ValueError("a bug"), KeyError("plan"), DataError("d"), OSError("disk"),
                  IncompleteMigration("i"), CollectionBusy("b")):
        assert not isinstance(stray, REFUSALS), stray
