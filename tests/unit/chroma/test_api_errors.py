"""A failure of Chroma's API becomes one SourceError naming the collection, the store and what to fix."""

from __future__ import annotations

import socket
from pathlib import Path

import chromadb
import pytest

from vectorops.chroma.api_errors import api_errors, unreadable
from vectorops.chroma.preflight import CollectionRef, SourceSpec, chromadb_version
from vectorops.errors import SourceError


def test_a_local_store_failure_names_the_collection_and_what_was_asked(tmp_path: Path) -> None:
    spec = SourceSpec(path=str(tmp_path))
    client = chromadb.PersistentClient(path=str(tmp_path))
    with pytest.raises(SourceError) as raised, api_errors(spec, "no_such_collection", "count its records"):
        client.get_collection("no_such_collection")
    message = str(raised.value)
    assert message.startswith(f"collection 'no_such_collection' of {spec.uri}: Chroma's API")
    assert "failed to count its records: NotFoundError" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_collection_outside_the_default_tenant_is_named_by_its_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"collection 'acme/db1/docs' of chroma\+file://"), \
            api_errors(SourceSpec(path=str(tmp_path)), CollectionRef("acme", "db1", "docs"), "read it"):
        raise KeyError("boom")


def test_a_source_error_passes_through_unchanged(tmp_path: Path) -> None:
    original = SourceError("already explained")
    with pytest.raises(SourceError) as raised, api_errors(SourceSpec(path=str(tmp_path)), "docs", "read it"):
        raise original
    assert raised.value is original


def test_nothing_raised_means_nothing_to_explain(tmp_path: Path) -> None:
    with api_errors(SourceSpec(path=str(tmp_path)), "docs", "read it"):
        value = 1
    assert value == 1


def test_a_server_failure_names_the_server_and_the_setting_to_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = SourceSpec(host="127.0.0.1", port=port, conn_id="chroma_unit")
    with pytest.raises(SourceError, match=rf"cannot connect to Chroma server 127.0.0.1:{port}"), \
            api_errors(spec, "docs", "read it"):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_an_unreadable_store_names_the_installed_chromadb(tmp_path: Path) -> None:
    error = unreadable(SourceSpec(path=str(tmp_path)), "collection 'docs'", ValueError("bad segment"))
    assert isinstance(error, SourceError)
    assert str(error).startswith(f"collection 'docs' in chroma+file://{tmp_path.resolve()} cannot be read by "
                                 f"chromadb {chromadb_version()} (ValueError: bad segment)")
    assert "another Chroma version" in str(error)
