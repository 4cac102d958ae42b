"""``get_store(service)``: the backend chosen by ``<SERVICE>_STORAGE_TYPE``, and clear errors naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vectorops.errors import SettingError
from vectorops.store import StoreError, get_store
from vectorops.store.chroma import ChromaStore
from vectorops.store.dual import DualStore
from vectorops.store.postgres import PostgresStore
from vectorops.store.settings import libpq_url, store_settings

VARS = ("QUERY_STORAGE_TYPE", "DATABASE_URL", "QUERY_PERSIST_DIRECTORY", "CHROMA_PERSIST_DIRECTORY",
        "QUERY_TABLE_SCHEMA", "QUERY_DUAL_SAMPLE_RATE", "QUERY_STATEMENT_TIMEOUT_MS", "QUERY_POOL_MAX_SIZE")
PG = {"QUERY_STORAGE_TYPE": "postgres", "DATABASE_URL": "postgresql://x/y"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(("values", "message"), [
    ({}, "QUERY_STORAGE_TYPE is not set"),
    ({"QUERY_STORAGE_TYPE": "pinecone"}, "QUERY_STORAGE_TYPE='pinecone' is not one of postgres, chroma, dual"),
    ({"QUERY_STORAGE_TYPE": "postgres"}, "DATABASE_URL is not set"),
    ({"QUERY_STORAGE_TYPE": "chroma"}, "QUERY_PERSIST_DIRECTORY (or CHROMA_PERSIST_DIRECTORY) is not set"),
    ({"QUERY_STORAGE_TYPE": "dual", "DATABASE_URL": "postgresql://x/y"}, "QUERY_PERSIST_DIRECTORY"),
    ({"QUERY_STORAGE_TYPE": "dual", "QUERY_PERSIST_DIRECTORY": "/tmp/c"}, "DATABASE_URL is not set"),
    ({"QUERY_STORAGE_TYPE": "postgres", "DATABASE_URL": "postgresql://x/y", "QUERY_TABLE_SCHEMA": "Bad-Name"},
     "QUERY_TABLE_SCHEMA"),
    ({"QUERY_STORAGE_TYPE": "dual", "DATABASE_URL": "postgresql://x/y", "CHROMA_PERSIST_DIRECTORY": "/tmp/c",
      "QUERY_DUAL_SAMPLE_RATE": "1.5"}, "QUERY_DUAL_SAMPLE_RATE=1.5 must be a number from 0 to 1"),
    ({**PG, "QUERY_STATEMENT_TIMEOUT_MS": "30s"}, "QUERY_STATEMENT_TIMEOUT_MS='30s' is not an integer"),
    ({**PG, "QUERY_STATEMENT_TIMEOUT_MS": "0"}, "QUERY_STATEMENT_TIMEOUT_MS=0 must be at least 1"),
    ({**PG, "QUERY_STATEMENT_TIMEOUT_MS": str(2 ** 31)},
     f"QUERY_STATEMENT_TIMEOUT_MS={2 ** 31} must be an integer from 1 to {2 ** 31 - 1}"),
    ({**PG, "QUERY_POOL_MAX_SIZE": "-2"}, "QUERY_POOL_MAX_SIZE=-2 must be at least 1"),
    ({**PG, "QUERY_POOL_MAX_SIZE": "5000"}, "QUERY_POOL_MAX_SIZE=5000 must be an integer from 1 to 1000"),
])
def test_errors_name_the_variable(env: pytest.MonkeyPatch, values: dict[str, str], message: str) -> None:
    for name, value in values.items():
        env.setenv(name, value)
    with pytest.raises(SettingError) as caught:
        get_store("query")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_session_bounds_reach_the_store(env: pytest.MonkeyPatch, dsn: str) -> None:
    env.setenv("DATABASE_URL", dsn)
    env.setenv("QUERY_STORAGE_TYPE", "postgres")
    store = get_store("query")
    assert (store.pool.limits.statement_timeout_ms, store.pool.limits.max_size) == (30000, 10)  # the defaults
    store.close()
    env.setenv("QUERY_STATEMENT_TIMEOUT_MS", "1500")
    env.setenv("QUERY_POOL_MAX_SIZE", "3")
    store = get_store("query")
    try:
        assert (store.pool.limits.statement_timeout_ms, store.pool.limits.max_size) == (1500, 3)
        with store.pool.connection() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
    finally:
        store.close()
    with pytest.raises(StoreError, match=r"^QUERY_POOL_MAX_SIZE=0 must be an integer from 1 to 1000$"):
        PostgresStore(dsn, service="query", pool_max_size=0)


def test_service_names(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("SEARCH_API_STORAGE_TYPE", "chroma")
    env.setenv("SEARCH_API_PERSIST_DIRECTORY", str(tmp_path))
    assert store_settings("search-api").persist_directory == str(tmp_path)
    with pytest.raises(SettingError, match="service name"):
        get_store("no spaces")


def test_each_backend(env: pytest.MonkeyPatch, tmp_path: Path, dsn: str) -> None:
    env.setenv("DATABASE_URL", dsn.replace("postgresql://", "postgresql+psycopg://"))
    env.setenv("CHROMA_PERSIST_DIRECTORY", str(tmp_path))
    stores: dict[str, Any] = {}
    for kind, cls in (("postgres", PostgresStore), ("chroma", ChromaStore), ("dual", DualStore)):
        env.setenv("QUERY_STORAGE_TYPE", kind.upper() if kind == "dual" else kind)
        stores[kind] = get_store("query")
        assert type(stores[kind]) is cls and stores[kind].backend == kind
    assert stores["postgres"].pool.dsn == dsn  # SQLAlchemy-style URL taken as libpq's
    assert stores["dual"].sample_rate == 0.1 and stores["dual"].shadow.persist_directory == str(tmp_path)
    assert stores["postgres"].list_collections() == sorted(stores["postgres"].list_collections())
    for store in stores.values():
        store.close()


def test_libpq_url() -> None:
    assert libpq_url("postgres://u@h/d") == "postgresql://u@h/d"
    assert libpq_url("postgresql+psycopg2://u@h:5/d") == "postgresql://u@h:5/d"
    assert libpq_url("postgresql://u@h/d") == "postgresql://u@h/d"
