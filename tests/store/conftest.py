"""Fixtures of the store tests: a pgvector store in a schema of its own and a Chroma store in a temp directory,
both removed afterwards (the test server is shared by the whole session)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support import forget_collection


def drop_store_schema(dsn: str, schema: str, service: str | None = None) -> None:
    """Drop ``schema`` and every platform row of the collections registered in it (and of ``service``)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT collection FROM vectorops.collection_registry WHERE table_schema = %s", (schema,))]
        conn.execute("DELETE FROM vectorops.store_collections WHERE collection = ANY(%s)", (names,))
        if service is not None:
            conn.execute("DELETE FROM vectorops.store_disagreements WHERE service = %s", (service,))
    for name in names:
        forget_collection(dsn, name, schema)
    forget_collection(dsn, "-", schema)  # the schema itself, when no collection was registered


@pytest.fixture(scope="module")
def pg_store(dsn: str) -> Iterator[Any]:
    """A :class:`PostgresStore` whose new collections go to a schema of this module's own."""
    from vectorops.store.postgres import PostgresStore

    schema = f"store_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, table_schema=schema, service=f"test-{schema}")
    yield store
    store.close()
    drop_store_schema(dsn, schema, store.service)


@pytest.fixture(scope="module")
def chroma_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A :class:`ChromaStore` in a fresh directory."""
    from vectorops.store.chroma import ChromaStore

    return ChromaStore(Path(tmp_path_factory.mktemp("store-chroma")))


@pytest.fixture(scope="module")
def stores(pg_store: Any, chroma_store: Any) -> dict[str, Any]:
    """Both backends by name."""
    return {"chroma": chroma_store, "postgres": pg_store}
