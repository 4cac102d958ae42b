"""The store's settings, read from a service's environment in one place.

``get_store("query")`` reads ``QUERY_STORAGE_TYPE`` and the variables below; the prefix is the service name in
upper case with ``-`` as ``_``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from vectorops.env_values import int_env
from vectorops.errors import SettingError

STORAGE_TYPES = ("postgres", "chroma", "dual")
DEFAULT_TABLE_SCHEMA = "vectors"
DEFAULT_DUAL_SAMPLE_RATE = 0.1
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
DEFAULT_POOL_MAX_SIZE = 10
#: PostgreSQL's own bound for statement_timeout (an int of milliseconds)
MAX_STATEMENT_TIMEOUT_MS = 2 ** 31 - 1
MAX_POOL_SIZE = 1000
_SERVICE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_DRIVER_SCHEMES = ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql+asyncpg://", "postgres://")


@dataclass(frozen=True)
class StoreSettings:
    """Where one service's vectors live.

    :param service: the service name given to ``get_store``.
    :param storage_type: ``postgres`` | ``chroma`` | ``dual`` (``<SERVICE>_STORAGE_TYPE``).
    :param database_url: libpq URL of PostgreSQL with pgvector (``DATABASE_URL``); SQLAlchemy-style
        ``postgresql+psycopg://`` URLs are accepted.
    :param persist_directory: Chroma PersistentClient directory (``<SERVICE>_PERSIST_DIRECTORY``, else
        ``CHROMA_PERSIST_DIRECTORY``).
    :param table_schema: schema of the tables of collections the store creates (``<SERVICE>_TABLE_SCHEMA``,
        default ``vectors``, the migration's default).
    :param dual_sample_rate: share of queries that ``dual`` mode also sends to Chroma
        (``<SERVICE>_DUAL_SAMPLE_RATE``, 0 to 1, default 0.1).
    :param statement_timeout_ms: PostgreSQL ``statement_timeout`` of every store session
        (``<SERVICE>_STATEMENT_TIMEOUT_MS``, default 30000): a longer query is cancelled.
    :param pool_max_size: the most connections the service holds at once (``<SERVICE>_POOL_MAX_SIZE``, default 10).
    """

    service: str
    storage_type: str
    database_url: str | None = field(repr=False)
    persist_directory: str | None
    table_schema: str = DEFAULT_TABLE_SCHEMA
    dual_sample_rate: float = DEFAULT_DUAL_SAMPLE_RATE
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    pool_max_size: int = DEFAULT_POOL_MAX_SIZE


def env_prefix(service: str) -> str:
    """``QUERY`` for ``query``, ``SEARCH_API`` for ``search-api``.

    :raises SettingError: when ``service`` is not a plain name.
    """
    if not isinstance(service, str) or not _SERVICE.match(service):
        raise SettingError(f"service name {service!r} must start with a letter and hold only letters, digits, "
                           "'_' and '-' (it names the environment variables <SERVICE>_STORAGE_TYPE ...)")
    return service.upper().replace("-", "_")


def libpq_url(url: str) -> str:
    """``url`` as libpq takes it: SQLAlchemy driver suffixes and ``postgres://`` become ``postgresql://``."""
    for scheme in _DRIVER_SCHEMES:
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme):]
    return url


def _sample_rate(name: str) -> float:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return DEFAULT_DUAL_SAMPLE_RATE
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingError(f"{name}={raw!r} is not a number") from exc
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise SettingError(f"{name}={raw} must be a number from 0 to 1")
    return value


def _bounded_int(name: str, default: int, high: int) -> int:
    value = int_env(name, default, minimum=1)
    if value > high:
        raise SettingError(f"{name}={value} must be an integer from 1 to {high}")
    return value


def store_settings(service: str) -> StoreSettings:
    """Read a service's :class:`StoreSettings` from the environment.

    :raises SettingError: naming the variable that is missing or has an unusable value.
    """
    prefix = env_prefix(service)
    type_var = f"{prefix}_STORAGE_TYPE"
    storage_type = (os.environ.get(type_var) or "").strip().lower()
    if not storage_type:
        raise SettingError(f"{type_var} is not set; set it to one of {', '.join(STORAGE_TYPES)}")
    if storage_type not in STORAGE_TYPES:
        raise SettingError(f"{type_var}={os.environ[type_var]!r} is not one of {', '.join(STORAGE_TYPES)}")
    database_url = (os.environ.get("DATABASE_URL") or "").strip() or None
    if storage_type in ("postgres", "dual") and database_url is None:
        raise SettingError(f"DATABASE_URL is not set; {type_var}={storage_type} needs the PostgreSQL URL "
                           "(postgresql://user:password@host:5432/database)")
    dir_var = f"{prefix}_PERSIST_DIRECTORY"
    persist = (os.environ.get(dir_var) or os.environ.get("CHROMA_PERSIST_DIRECTORY") or "").strip() or None
    if storage_type in ("chroma", "dual") and persist is None:
        raise SettingError(f"{dir_var} (or CHROMA_PERSIST_DIRECTORY) is not set; {type_var}={storage_type} needs "
                           "the Chroma persist directory")
    schema_var = f"{prefix}_TABLE_SCHEMA"
    schema = (os.environ.get(schema_var) or "").strip() or DEFAULT_TABLE_SCHEMA
    from vectorops.naming import check_schema_name

    try:
        check_schema_name(schema)
    except ValueError as exc:
        raise SettingError(f"{schema_var}: {exc}") from exc
    return StoreSettings(service=service, storage_type=storage_type,
                         database_url=libpq_url(database_url) if database_url else None,
                         persist_directory=persist, table_schema=schema,
                         dual_sample_rate=_sample_rate(f"{prefix}_DUAL_SAMPLE_RATE"),
                         statement_timeout_ms=_bounded_int(f"{prefix}_STATEMENT_TIMEOUT_MS",
                                                           DEFAULT_STATEMENT_TIMEOUT_MS, MAX_STATEMENT_TIMEOUT_MS),
                         pool_max_size=_bounded_int(f"{prefix}_POOL_MAX_SIZE", DEFAULT_POOL_MAX_SIZE, MAX_POOL_SIZE))
