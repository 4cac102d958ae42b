"""The ledger tests' connection: one transaction per test, rolled back."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    """The test's transaction; nothing it writes outlives the test."""
    with psycopg.connect(dsn) as connection:
        yield connection
        connection.rollback()
