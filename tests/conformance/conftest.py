"""Chroma's own tests on the store: the ``client`` they ask for is a :class:`StoreClient` over the ``postgres`` or the
``dual`` backend (each test runs on both), and Hypothesis runs a fixed profile.

Chroma's ``chromadb/test/conftest.py`` is imported (the tests import it) but not loaded as a conftest: its fixtures
start Chroma systems and servers. Its Hypothesis profile is replaced here, before the test modules are imported
(their ``@settings`` take what they do not set from the profile loaded when they are decorated).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb.test.conftest  # noqa: F401  (registers Chroma's profiles; ours is loaded after it)
import hypothesis
import pytest

from tests.conformance.client import StoreClient
from tests.conformance.scope import LEFT_OUT, REFUSED
from tests.store.conftest import drop_store_schema

BACKENDS = ("postgres", "dual")
EXAMPLES = 100

hypothesis.settings.register_profile(
    "vectorops-conformance", hypothesis.settings.get_profile("base"), max_examples=EXAMPLES, derandomize=True,
    database=None, deadline=None, print_blob=True, verbosity=hypothesis.Verbosity.normal,
    # no shrinking: a failure is reported as first found (derandomized, so it comes back the same) instead of
    # minutes of shrinking against a database
    phases=(hypothesis.Phase.explicit, hypothesis.Phase.generate))
hypothesis.settings.load_profile("vectorops-conformance")


def pytest_configure(config: pytest.Config) -> None:
    """The markers Chroma's test modules use (its conftest and pytest-rerunfailures register them there)."""
    for marker in ("flaky: rerun a test (pytest-rerunfailures)", "dual_database: run test with both databases",
                   "test_with_multi_region: run test with MCMR database when MULTI_REGION_ENABLED"):
        config.addinivalue_line("markers", marker)


def _key(item: pytest.Item) -> str:
    """``<Chroma's module>::<test>``: the function is Chroma's, so its module is too."""
    function = item.obj  # type: ignore[attr-defined]
    return f"{function.__module__.rsplit('.', 1)[-1]}::{function.__name__}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``scope.LEFT_OUT`` by name (pytest reports them as deselected); mark ``scope.REFUSED`` as failing
    with exactly the documented error."""
    kept, dropped = [], []
    for item in items:
        if "tests/conformance/" not in item.nodeid:
            kept.append(item)
            continue
        key = _key(item)
        if key in LEFT_OUT:
            dropped.append(item)
            continue
        if key in REFUSED:
            error, reason = REFUSED[key]
            item.add_marker(pytest.mark.xfail(raises=error, strict=True, reason=reason))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def conformance_stores(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One store per backend, each in a schema of its own (the dual one with its Chroma directory)."""
    from vectorops.store.chroma import ChromaStore
    from vectorops.store.dual import DualStore
    from vectorops.store.postgres import PostgresStore

    schemas = {backend: f"conformance_{backend}_{uuid.uuid4().hex[:8]}" for backend in BACKENDS}
    postgres = PostgresStore(dsn, table_schema=schemas["postgres"], service="conformance-postgres")
    dual = DualStore(PostgresStore(dsn, table_schema=schemas["dual"], service="conformance-dual"),
                     ChromaStore(Path(tmp_path_factory.mktemp("conformance-chroma"))), "conformance-dual",
                     sample_rate=0.1, seed=26)
    stores = {"postgres": postgres, "dual": dual}
    yield stores
    for backend, store in stores.items():
        store.close()
        drop_store_schema(dsn, schemas[backend], f"conformance-{backend}")


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, conformance_stores: dict[str, Any]) -> Iterator[StoreClient]:
    """Chroma's ``client`` fixture, on the store: an empty backend for each test, as Chroma resets its system."""
    store_client = StoreClient(conformance_stores[request.param])
    store_client.reset()
    yield store_client
    store_client.reset()
