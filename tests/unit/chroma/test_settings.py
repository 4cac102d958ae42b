"""The space/HNSW precedence of :mod:`vectorops.chroma.settings`, in the forms each Chroma stores them.

The real stores of every version are checked in ``tests/integration/test_store_versions.py``; these cover the cases
no fixture store has (a store upgraded from 0.x to 1.x, a configuration passed to 0.5/0.6 and ignored by them).
"""

from __future__ import annotations

from typing import Any

import pytest

from vectorops.chroma.settings import resolve_settings

#: what chromadb 0.5.18 and 0.6.3 write into config_json_str for every collection (their defaults)
CONFIG_05 = {"hnsw_configuration": {"space": "l2", "ef_construction": 100, "ef_search": 10, "num_threads": 2, "M": 16,
                                    "resize_factor": 1.2, "batch_size": 100, "sync_threshold": 1000,
                                    "_type": "HNSWConfigurationInternal"}, "_type": "CollectionConfigurationInternal"}
CONFIG_06 = {**CONFIG_05, "hnsw_configuration": {**CONFIG_05["hnsw_configuration"], "ef_search": 100}}
#: 1.0's config_json_str of a collection created with the defaults
RUST_DEFAULT = {"vector_index": {"hnsw": {"space": "l2", "ef_construction": 100, "ef_search": 100,
                                          "max_neighbors": 16, "resize_factor": 1.2, "sync_threshold": 1000}},
                "embedding_function": None}


def _summary(**kwargs: Any) -> tuple[Any, ...]:
    found = resolve_settings(**kwargs)
    return found.space, found.m, found.ef_construction, found.ef_search, dict(found.origins)


def test_python_chroma_reads_the_segments_legacy_keys_and_ignores_the_configuration() -> None:
    legacy = {"hnsw:space": "ip", "hnsw:M": 14}
    configured_cosine = {**CONFIG_05, "hnsw_configuration": {**CONFIG_05["hnsw_configuration"], "space": "cosine"}}
    assert _summary(metadata={}, configuration=configured_cosine, schema={}, writer="python",
                    segment_metadata=legacy)[:4] == ("ip", 14, 100, 10)
    # the collection's metadata changed after creation; the segment kept its copy
    assert _summary(metadata={"hnsw:space": "cosine"}, configuration=CONFIG_05, schema={}, writer="python",
                    segment_metadata={})[0] == "l2"


@pytest.mark.parametrize(("configuration", "ef_search"), [({}, 10), (CONFIG_05, 10), (CONFIG_06, 100)],
                         ids=["0.4", "0.5", "0.6"])
def test_python_chroma_defaults_are_those_of_its_version(configuration: dict[str, Any], ef_search: int) -> None:
    space, m, ef_construction, found, origins = _summary(metadata={}, configuration=configuration, schema={},
                                                         writer="python", segment_metadata={})
    assert (space, m, ef_construction, found) == ("l2", 16, 100, ef_search)
    assert set(origins.values()) == {"default"}


def test_rust_chroma_takes_the_schema_first() -> None:
    schema = {"keys": {"#embedding": {"float_list": {"vector_index": {"config": {
        "space": "cosine", "hnsw": {"max_neighbors": 12, "ef_construction": 80, "ef_search": 40}}}}}}}
    space, m, ef_construction, ef_search, origins = _summary(
        metadata={"hnsw:space": "ip"}, configuration={}, schema=schema, writer="rust", segment_metadata={})
    assert (space, m, ef_construction, ef_search) == ("cosine", 12, 80, 40)
    assert set(origins.values()) == {"schema"}


@pytest.mark.parametrize("configuration", [
    {"vector_index": {"hnsw": {"space": "ip", "max_neighbors": 14, "ef_search": 45}}},  # config_json_str (1.0)
    {"hnsw": {"space": "ip", "max_neighbors": 14, "ef_search": 45}},  # a 1.x client's configuration_json
])
def test_rust_chroma_takes_the_configuration_and_its_defaults(configuration: dict[str, Any]) -> None:
    space, m, ef_construction, ef_search, origins = _summary(metadata={}, configuration=configuration, schema={})
    assert (space, m, ef_construction, ef_search) == ("ip", 14, 100, 45)
    assert origins == {"space": "configuration", "m": "configuration", "ef_construction": "default",
                       "ef_search": "configuration"}


def test_an_upgraded_store_keeps_its_legacy_settings_while_the_configuration_is_all_default() -> None:
    legacy = {"hnsw:space": "cosine", "hnsw:search_ef": 40}
    space, m, _, ef_search, origins = _summary(metadata=legacy, configuration=RUST_DEFAULT, schema={},
                                               writer="rust", segment_metadata=legacy)
    assert (space, m, ef_search) == ("cosine", 16, 40)
    assert origins["space"] == "metadata" and origins["m"] == "default"
    # a configuration that is not all default wins, whatever the legacy keys say
    tuned = {"vector_index": {"hnsw": {**RUST_DEFAULT["vector_index"]["hnsw"], "ef_search": 64}}}
    assert _summary(metadata=legacy, configuration=tuned, schema={}, writer="rust",
                    segment_metadata=legacy)[0] == "l2"
    # a 1.x-created collection: the segment has no legacy keys, the collection's metadata does not count
    assert _summary(metadata=legacy, configuration=RUST_DEFAULT, schema={}, writer="rust",
                    segment_metadata={})[0] == "l2"


def test_an_unknown_space_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'dot' is not one of l2, cosine, ip"):
        resolve_settings({"hnsw:space": "dot"}, {}, {}, writer="python")
