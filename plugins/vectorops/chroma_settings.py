"""A collection's distance space and HNSW parameters, resolved as the Chroma that wrote the store resolves them.

Chroma has kept these in three places over its versions:

* the legacy ``hnsw:*`` keys of the collection's metadata (``hnsw:space``, ``hnsw:M``, ``hnsw:construction_ef``,
  ``hnsw:search_ef``): the only place before 0.5, and the one the HNSW segment of 0.5 and 0.6 still reads;
* ``collections.config_json_str``: 0.5 and 0.6 write ``hnsw_configuration`` with the *defaults* (space ``l2``)
  whatever the metadata says, and 1.x writes ``{"hnsw": {...}}``;
* ``collections.schema_str`` (1.2 and later): the vector index's configuration under ``keys["#embedding"]``.

A legacy key present in the metadata is what Chroma's queries use (a store upgraded from 0.5/0.6 keeps the
default ``l2`` in its configuration and its real space only in the metadata), so it wins; then the 1.x schema,
then the configuration; then the defaults of the version that had no configuration (0.4–0.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SPACES = ("l2", "cosine", "ip")
LEGACY_KEYS = {"space": "hnsw:space", "m": "hnsw:M", "ef_construction": "hnsw:construction_ef",
               "ef_search": "hnsw:search_ef"}
#: chromadb 0.4–0.6's HnswParams defaults (the only ones a store without a configuration can have)
LEGACY_DEFAULTS = {"space": "l2", "m": 16, "ef_construction": 100, "ef_search": 10}
_CONFIG_KEYS = {"space": ("space",), "m": ("max_neighbors", "M"), "ef_construction": ("ef_construction",),
                "ef_search": ("ef_search",)}


@dataclass(frozen=True)
class IndexSettings:
    """The space, HNSW parameters and embedding function of a collection, and where each value came from.

    :param origins: for each of ``space``, ``m``, ``ef_construction``, ``ef_search``: ``metadata``, ``schema``,
        ``configuration`` or ``default``.
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


def _schema_index(schema: dict[str, Any]) -> dict[str, Any]:
    """The vector index configuration of a 1.x schema (``keys["#embedding"]``), or ``{}``."""
    keys = schema.get("keys") if isinstance(schema, dict) else None
    embedding = (keys or {}).get("#embedding") or {}
    index = ((embedding.get("float_list") or {}).get("vector_index") or {}).get("config")
    return index if isinstance(index, dict) else {}


def _configured(configuration: dict[str, Any]) -> dict[str, Any]:
    """The HNSW (or SPANN) section of ``config_json_str``, in either the 1.x or the 0.5/0.6 form."""
    for key in ("hnsw", "spann", "hnsw_configuration"):
        section = configuration.get(key)
        if isinstance(section, dict):
            return section
    return {}


def _lookup(section: dict[str, Any], field: str) -> Any:
    for key in _CONFIG_KEYS[field]:
        if section.get(key) is not None:
            return section[key]
    return None


def resolve_settings(metadata: dict[str, Any], configuration: dict[str, Any],
                     schema: dict[str, Any]) -> IndexSettings:
    """Resolve a collection's settings from its metadata, ``config_json_str`` and ``schema_str``.

    :raises ValueError: naming the value when the space is not one of ``l2``, ``cosine``, ``ip``.
    """
    index = _schema_index(schema)
    index_hnsw = index.get("hnsw") if isinstance(index.get("hnsw"), dict) else index.get("spann") or {}
    sources: list[tuple[str, dict[str, Any]]] = [
        ("schema", {**(index_hnsw if isinstance(index_hnsw, dict) else {}), "space": index.get("space")}),
        ("configuration", _configured(configuration))]
    values: dict[str, Any] = {}
    origins: list[tuple[str, str]] = []
    for field, legacy in LEGACY_KEYS.items():
        value, origin = metadata.get(legacy), "metadata"
        for name, section in sources:
            if value is not None:
                break
            value, origin = _lookup(section, field), name
        if value is None:
            value, origin = LEGACY_DEFAULTS[field], "default"
        values[field] = value
        origins.append((field, origin))
    space = values["space"]
    if space not in SPACES:
        raise ValueError(f"distance space {space!r} is not one of {', '.join(SPACES)}")
    function = index.get("embedding_function") or configuration.get("embedding_function") or {}
    function = function if isinstance(function, dict) else {}
    model = (function.get("config") or {}).get("model_name") if isinstance(function.get("config"), dict) else None
    return IndexSettings(
        space=space, m=_int(values["m"]) or LEGACY_DEFAULTS["m"],
        ef_construction=_int(values["ef_construction"]) or LEGACY_DEFAULTS["ef_construction"],
        ef_search=_int(values["ef_search"]) or LEGACY_DEFAULTS["ef_search"],
        embedding_function=function.get("name") if isinstance(function.get("name"), str) else None,
        model_name=model if isinstance(model, str) else None, origins=tuple(origins))
