"""A collection's distance space and HNSW parameters, resolved as the Chroma that wrote the store resolves them.

Chroma has kept these in three places, and which one its HNSW index uses depends on the Chroma:

* **chromadb 0.4–0.6** (Python): the vector segment's ``hnsw:*`` metadata (``hnsw:space``, ``hnsw:M``,
  ``hnsw:construction_ef``, ``hnsw:search_ef``), a copy of the collection's ``hnsw:*`` metadata taken when the
  collection was created (``PersistentHnswParams(segment["metadata"])``), and nothing else: 0.5 and 0.6 also write
  ``collections.config_json_str`` (``{"hnsw_configuration": ...}``), but with the *defaults* whatever the metadata
  says, and the segment never reads it. Missing keys take that version's defaults: space ``l2``, M 16,
  ef_construction 100, ef_search 10 (0.4, 0.5) or 100 (0.6). 0.5 and 0.6 write the same schema; the ef_search
  their default configuration records (10 or 100) tells them apart.
* **chromadb 1.x** (Rust): the vector index configuration, from ``collections.schema_str`` (1.3 on:
  ``keys["#embedding"].float_list.vector_index.config``, else ``defaults.float_list``) or else
  ``config_json_str`` (``{"vector_index": {"hnsw": ...}}``); missing fields take 1.x's defaults (space ``l2``,
  M 16, ef_construction 100, ef_search 100). 1.x folds a new collection's ``hnsw:*`` metadata into that
  configuration, so it holds the real values. Only when the configuration is entirely the default does the vector
  segment's ``hnsw:*`` metadata (a store upgraded from 0.x) take over
  (``get_internal_hnsw_config_with_legacy_fallback``, ``collection_schema.rs``).

Checked against the stores each of chromadb 0.4.24, 0.5.18, 0.6.3, 1.0.21 and 1.5.9 wrote
(``tests/fixtures/stores``): the space measured from that Chroma's own query distances, and the parameters that
version reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SPACES = ("l2", "cosine", "ip")
FIELDS = ("space", "m", "ef_construction", "ef_search")
LEGACY_KEYS = {"space": "hnsw:space", "m": "hnsw:M", "ef_construction": "hnsw:construction_ef",
               "ef_search": "hnsw:search_ef"}
#: chromadb 0.4 and 0.5's HnswParams defaults (0.6 changed ef_search to 100)
LEGACY_DEFAULTS = {"space": "l2", "m": 16, "ef_construction": 100, "ef_search": 10}
#: chromadb 1.x's InternalHnswConfiguration defaults, and 0.6's HnswParams defaults
DEFAULTS = {"space": "l2", "m": 16, "ef_construction": 100, "ef_search": 100}
#: the other fields of 1.x's default configuration (num_threads is the machine's core count: not compared)
_OTHER_DEFAULTS = {"resize_factor": 1.2, "sync_threshold": 1000, "batch_size": 100}
_OTHER_LEGACY_KEYS = {"resize_factor": "hnsw:resize_factor", "sync_threshold": "hnsw:sync_threshold",
                      "batch_size": "hnsw:batch_size"}
_CONFIG_KEYS = {"space": ("space",), "m": ("max_neighbors", "M"), "ef_construction": ("ef_construction",),
                "ef_search": ("ef_search",), "resize_factor": ("resize_factor",),
                "sync_threshold": ("sync_threshold",), "batch_size": ("batch_size",)}
PYTHON, RUST = "python", "rust"
#: the keys chromadb 1.0–1.5.9 write in a vector index configuration, and in its ``hnsw`` section; any other key is
#: a setting of a newer Chroma (a quantization, say) that may change what its files hold
INDEX_KEYS = {"space", "embedding_function", "source_key", "hnsw", "spann"}
HNSW_KEYS = {"ef_construction", "ef_search", "max_neighbors", "num_threads", "resize_factor", "sync_threshold",
             "batch_size"}


@dataclass(frozen=True)
class IndexSettings:
    """The space, HNSW parameters and embedding function of a collection, and where each value came from.

    :param origins: for each of ``space``, ``m``, ``ef_construction``, ``ef_search``: ``metadata`` (the legacy
        ``hnsw:*`` keys), ``schema``, ``configuration`` or ``default``.
    """

    space: str
    m: int
    ef_construction: int
    ef_search: int
    embedding_function: str | None
    model_name: str | None
    origins: tuple[tuple[str, str], ...]

    def origin(self, field: str) -> str:
        """Where ``field`` came from."""
        return dict(self.origins)[field]


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _schema_index(schema: dict[str, Any]) -> dict[str, Any]:
    """The vector index configuration of a 1.x schema: ``keys["#embedding"]``, else the defaults', else ``{}``."""
    for place in (_dict(_dict(schema.get("keys")).get("#embedding")), _dict(schema.get("defaults"))):
        config = _dict(_dict(_dict(place.get("float_list")).get("vector_index")).get("config"))
        if config:
            return config
    return {}


def _configured(configuration: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The HNSW and SPANN sections of a 1.x configuration (``{}`` where absent).

    Takes ``config_json_str``'s ``{"vector_index": {"hnsw": ...}}`` and a 1.x client's ``{"hnsw": ...}`` alike.
    """
    holder = _dict(configuration.get("vector_index")) or configuration
    return _dict(holder.get("hnsw")), _dict(holder.get("spann"))


def _lookup(section: dict[str, Any], field: str) -> Any:
    for key in _CONFIG_KEYS[field]:
        if section.get(key) is not None:
            return section[key]
    return None


def writer_of_settings(configuration: dict[str, Any], schema: dict[str, Any]) -> str:
    """``rust`` when the settings are in 1.x's form, ``python`` when in 0.5/0.6's (or there are none: 0.4)."""
    if schema or any(_configured(configuration)) or "vector_index" in configuration:
        return RUST
    return PYTHON


def resolve_settings(metadata: dict[str, Any] | None, configuration: dict[str, Any] | None,
                     schema: dict[str, Any] | None, *, writer: str | None = None,
                     segment_metadata: dict[str, Any] | None = None) -> IndexSettings:
    """Resolve a collection's settings from its metadata, ``config_json_str`` and ``schema_str``.

    :param metadata: the collection's metadata.
    :param configuration: ``config_json_str`` (or a client's ``configuration_json``), parsed.
    :param schema: ``schema_str``, parsed (``{}`` when there is none).
    :param writer: ``python`` (chromadb 0.4–0.6) or ``rust`` (1.x), told from the store's migrations; ``None``
        tells it from the form of the settings.
    :param segment_metadata: the vector segment's metadata, where Chroma's HNSW index reads the legacy ``hnsw:*``
        keys; ``None`` falls back to the collection's metadata (a server, whose segments are not visible).
    :raises ValueError: naming the value when the space is not one of ``l2``, ``cosine``, ``ip``.
    """
    metadata, configuration, schema = metadata or {}, configuration or {}, schema or {}
    legacy = metadata if segment_metadata is None else segment_metadata
    writer = writer or writer_of_settings(configuration, schema)
    if writer == PYTHON:
        values, origins = _python_settings(legacy, configuration)
    else:
        values, origins = _rust_settings(legacy, configuration, schema)
    space = values["space"]
    if space not in SPACES:
        raise ValueError(f"distance space {space!r} is not one of {', '.join(SPACES)}")
    index = _schema_index(schema)
    function = _dict(index.get("embedding_function") or configuration.get("embedding_function"))
    model = _dict(function.get("config")).get("model_name")
    return IndexSettings(
        space=space, m=values["m"], ef_construction=values["ef_construction"], ef_search=values["ef_search"],
        embedding_function=function.get("name") if isinstance(function.get("name"), str) else None,
        model_name=model if isinstance(model, str) else None, origins=tuple((f, origins[f]) for f in FIELDS))


def _legacy_value(legacy: dict[str, Any], field: str) -> Any:
    value = legacy.get(LEGACY_KEYS.get(field) or _OTHER_LEGACY_KEYS[field])
    return value if field == "space" else _int(value) if field in LEGACY_KEYS else value


def _python_settings(legacy: dict[str, Any], configuration: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """chromadb 0.4–0.6: the segment's ``hnsw:*`` metadata, else that version's defaults."""
    stored = _dict(configuration.get("hnsw_configuration"))
    defaults = dict(LEGACY_DEFAULTS, ef_search=100 if stored.get("ef_search") == 100 else 10)  # 0.6 vs 0.5
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for field in FIELDS:
        value = _legacy_value(legacy, field)
        values[field], origins[field] = (value, "metadata") if value is not None else (defaults[field], "default")
    return values, origins


def _check_known(section: dict[str, Any], known: set[str], what: str) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValueError(f"its {what} holds {', '.join(map(repr, unknown))}, which no chromadb up to 1.5.9 writes "
                         "(a newer Chroma's setting)")


def _rust_settings(legacy: dict[str, Any], configuration: dict[str, Any],
                   schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """chromadb 1.x: the schema's or configuration's vector index, else (all default) the legacy metadata."""
    index = _schema_index(schema)
    if index:
        _check_known(index, INDEX_KEYS, "vector index configuration")
        hnsw, spann = _dict(index.get("hnsw")), _dict(index.get("spann"))
        space, origin = index.get("space"), "schema"
    else:
        hnsw, spann = _configured(configuration)
        space, origin = hnsw.get("space") or spann.get("space"), "configuration"
    _check_known(hnsw, HNSW_KEYS | {"space"}, "HNSW configuration")
    section = hnsw or spann
    fields = (*FIELDS, *_OTHER_DEFAULTS)
    configured = {f: space if f == "space" else _lookup(section, f) for f in fields}
    all_defaults = {**DEFAULTS, **_OTHER_DEFAULTS}
    effective = {f: all_defaults[f] if configured[f] is None else configured[f] for f in fields}
    from_legacy = {f: all_defaults[f] if _legacy_value(legacy, f) is None else _legacy_value(legacy, f)
                   for f in fields}
    if effective == all_defaults and from_legacy != all_defaults:
        present = {f for f in FIELDS if _legacy_value(legacy, f) is not None}
        return ({f: from_legacy[f] for f in FIELDS},
                {f: "metadata" if f in present else "default" for f in FIELDS})
    return ({f: effective[f] for f in FIELDS},
            {f: "default" if configured[f] is None else origin for f in FIELDS})
