"""Params and settings are validated before any work starts, with messages that name the culprit."""

from __future__ import annotations

import dataclasses

import pytest

from vectorops.config import SettingError, load_settings
from vectorops.migration_request import request_from_params


@pytest.fixture()
def settings():
    return dataclasses.replace(load_settings(), chroma_path=None)


@pytest.mark.parametrize(("params", "message"), [
    ({"chroma_path": "/x", "batch_size": 0}, "batch_size=0"),
    ({"chroma_path": "/x", "batch_size": "10"}, "batch_size='10'"),
    ({"chroma_path": "/x", "reembed": "sometimes"}, "reembed='sometimes'"),
    ({"chroma_path": "/x", "target_schema": "a;b"}, "target_schema"),
    ({"chroma_path": "/x", "collections": [""]}, "collections"),
    ({"chroma_host": "h", "chroma_port": 70000}, "chroma_port"),
    ({}, "CHROMA_DB_PATH"),
])
def test_bad_params_are_rejected_with_their_name(settings, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        request_from_params(params, settings)


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
