"""Sync params are validated as a migration's are, before any work."""

from __future__ import annotations

from typing import Any

import pytest

from vectorops.errors import SettingError
from vectorops.sync.request import sync_request


def test_the_source_collections_and_schema_are_taken_as_given(settings: Any, tmp_path: Any) -> None:
    request = sync_request({"chroma_path": str(tmp_path), "collections": "a, b", "target_schema": "vec"}, settings)
    assert request.source.path == str(tmp_path) and request.collections == ("a", "b") and request.schema == "vec"


def test_no_schema_means_every_schema(settings: Any, tmp_path: Any) -> None:
    assert sync_request({"chroma_path": str(tmp_path)}, settings).schema is None


@pytest.mark.parametrize(("params", "message"), [
    ({"reembed": "always"}, r"unknown parameter\(s\) 'reembed'"),
    ({"chroma_conn": "x", "chroma_host": "h"}, "give one"),
    ({"target_schema": "Bad-Name"}, "Bad-Name"),
    ({"batch_size": 0}, "batch_size=0 must be an integer"),
])
def test_bad_params_are_refused_naming_the_parameter(settings: Any, tmp_path: Any, params: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(SettingError, match=message):
        sync_request({"chroma_path": str(tmp_path), **params}, settings)
