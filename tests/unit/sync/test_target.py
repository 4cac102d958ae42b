"""Choosing the collections a sync brings up to date, from the registry of a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from vectorops.errors import RequestError
from vectorops.sync.target import select_targets

SOURCE = "chroma+file:///stores/live"


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    """Three registry rows in a transaction rolled back after the test."""
    with psycopg.connect(dsn) as connection:
        # rows of collections other tests migrated under these keys step aside, inside the rolled-back transaction
        connection.execute("DELETE FROM vectorops.collection_registry WHERE collection_key = ANY(%s)",
                           (["docs", "acme/default_database/docs", "faq"],))
        for key, tenant, name, schema in (("docs", "default_tenant", "docs", "vectors"),
                                          ("acme/default_database/docs", "acme", "docs", "vectors"),
                                          ("faq", "default_tenant", "faq", "other")):
            connection.execute(
                """INSERT INTO vectorops.collection_registry (collection_key, collection, tenant, table_schema,
                       table_name, distance, source_count, loaded_count, quarantined_count, migrated_at, source_uri,
                       last_attempt_id)
                   VALUES (%s, %s, %s, %s, %s, 'l2', 0, 0, 0, now(), %s, 'attempt')""",
                (key, name, tenant, schema, f"tgt_{key.replace('/', '_')}", SOURCE))
        yield connection
        connection.rollback()


def test_all_migrated_collections_of_the_source_by_default(conn: psycopg.Connection) -> None:
    assert [t.key for t in select_targets(conn, SOURCE, (), None)] == ["acme/default_database/docs", "docs", "faq"]
    assert [t.key for t in select_targets(conn, SOURCE, (), "other")] == ["faq"]


def test_a_collection_is_asked_for_by_key_label_or_unique_name(conn: psycopg.Connection) -> None:
    assert [t.key for t in select_targets(conn, SOURCE, ("faq", "acme/default_database/docs"), None)] == [
        "faq", "acme/default_database/docs"]
    # a bare name is Chroma's default tenant and database (and here the key too), as `vectorops migrate` reads it
    assert [t.key for t in select_targets(conn, SOURCE, ("docs",), None)] == ["docs"]
    for key, tenant in (("acme/default_database/notes", "acme"), ("beta/default_database/notes", "beta")):
        conn.execute("""INSERT INTO vectorops.collection_registry (collection_key, collection, tenant, table_schema,
                            table_name, distance, source_count, loaded_count, quarantined_count, migrated_at,
                            source_uri, last_attempt_id)
                        VALUES (%s, 'notes', %s, 'vectors', %s, 'l2', 0, 0, 0, now(), %s, 'attempt')""",
                     (key, tenant, f"t_{tenant}_notes", SOURCE))
    with pytest.raises(RequestError, match="'notes' is ambiguous"):  # in no default database, held by two tenants
        select_targets(conn, SOURCE, ("notes",), None)


def test_unknown_collections_and_sources_are_named(conn: psycopg.Connection) -> None:
    with pytest.raises(RequestError, match=r"'nope'.* were not migrated from chroma\+file:///stores/live"):
        select_targets(conn, SOURCE, ("nope",), None)
    with pytest.raises(RequestError, match="no collection was migrated from chroma\\+file:///elsewhere"):
        select_targets(conn, "chroma+file:///elsewhere", (), None)
