"""How the suite is shared between pytest-xdist's workers (``make test`` runs ``pytest -n 2``).

Each worker is its own pytest process with its own embedded PostgreSQL and Airflow home (``tests/conftest.py``), so
tests of different workers never share a database. A module goes to one worker whole, so its module-scoped
fixtures (a migrated store, a seeded table) are built once; the e2e modules share one ``airflow standalone``
(a package-scoped fixture), so they go together. The heaviest modules (a test marked ``slow``, the e2e ones) are
queued first, so that no worker is left with a long one at the end while the other idles.
"""

from __future__ import annotations

from typing import Any

import pytest

E2E = "tests/e2e/"


def _heavy(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None or item.nodeid.startswith(E2E)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the modules holding a heavy test first, keeping the order within each module."""
    heavy = {item.nodeid.split("::", 1)[0] for item in items if _heavy(item)}
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in heavy)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """One work unit per test module, and one for all of ``tests/e2e``, in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return E2E if module.startswith(E2E) else module

    config.option.loadscopereorder = False  # keep the heavy-first order of pytest_collection_modifyitems
    return ByModule(config, log)
