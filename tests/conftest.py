"""Test session: an isolated embedded PostgreSQL + pgvector and Airflow home, set up before any import of Airflow."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from xdist.scheduler import LoadFileScheduling

pytest_plugins = ["tests.alert_receivers"]

# The longest first, so that on two workers (``make test`` runs ``pytest -n 2``) no long file is left for the end:
# the e2e platforms, Chroma's suites, the fault and integration tests, then the many short ones. The fault tests come
# before the integration tests because several back up and restore every vector schema in the session's database:
# after the integration tests' tables they took 18 times as long.
_ORDER = ("e2e", "conformance", "faults", "integration", "packaging", "store", "dags", "unit")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_HOME = Path(tempfile.mkdtemp(prefix="vectorops-test-"))
os.environ.update({
    "VECTOROPS_HOME": str(_HOME),
    "VECTOROPS_DB_PORT": str(_free_port()),
    "VECTOROPS_DB_PASSWORD": "test-password",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    # the session's server is a throwaway: no WAL archive (tests/integration/test_point_in_time.py starts its own,
    # archiving as a user's server does by default, and migrates into it)
    "VECTOROPS_WAL_ARCHIVE": "off",
})
for _name in ("VECTOROPS_DSN", "CHROMA_DB_PATH", "VECTOROPS_CHUNK_ROWS", "VECTOROPS_FETCH_BATCH",
              "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "VECTOROPS_OWNER_TOKEN"):
    os.environ.pop(_name, None)

from vectorops.airflow.env import airflow_environment  # noqa: E402
from vectorops.config import Settings, load_settings  # noqa: E402

# a port nothing listens on: a dag.test() that calls the public API (run notes) never reaches a `make run` on 8080
os.environ.setdefault("AIRFLOW_PORT", str(_free_port()))
# and free log-server ports: a session's Airflow never clashes with a `make run` or another session's
for _port in ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"):
    os.environ[_port] = str(_free_port())
os.environ.update(airflow_environment(load_settings()))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test directories in ``_ORDER``; within one, the order they were collected in (the sort is stable)."""
    tests = Path(__file__).parent

    def rank(item: pytest.Item) -> int:
        part = item.path.relative_to(tests).parts[0] if tests in item.path.parents else ""
        return _ORDER.index(part) if part in _ORDER else len(_ORDER)

    items.sort(key=rank)


class _ByFile(LoadFileScheduling):
    """xdist's ``loadfile`` (a file's tests on one worker, in order, its module fixtures set up once), with all of
    ``tests/e2e`` as one unit: its standalone platform is package-scoped, and two Airflows beside the other worker's
    tests would not fit two cores."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return "tests/e2e" if path.startswith("tests/e2e/") else path


@pytest.hookimpl(optionalhook=True)  # xdist's hook: `pytest -p no:xdist` still runs
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadFileScheduling:
    """Each worker gets a whole file (all of ``tests/e2e`` together), in the order collected: see ``_ByFile``."""
    config.option.loadscopereorder = False
    return _ByFile(config, log)  # type: ignore[arg-type]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Under xdist the controlling process imports this module too, making a home it never starts a server in."""
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _dsn_setting_restored() -> Iterator[None]:
    """A command run in-process with ``--dsn`` sets ``VECTOROPS_DSN`` for the whole process, as it must for the
    command; each test gets back the value it started with, so no later test runs against another database."""
    before = os.environ.get("VECTOROPS_DSN")
    yield
    if before is None:
        os.environ.pop("VECTOROPS_DSN", None)
    else:
        os.environ["VECTOROPS_DSN"] = before


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """Settings of the test session; the embedded server runs for the whole session."""
    from vectorops.db import runtime
    from vectorops.db.bootstrap import bootstrap

    current = load_settings()
    bootstrap(current)
    yield current
    if "airflow.settings" in sys.modules:  # close Airflow's pooled connections before the server goes away
        sys.modules["airflow.settings"].dispose_orm()
    runtime.stop(current)
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def dsn(settings: Settings) -> str:
    """DSN of the vectors database of the test server."""
    from vectorops.db import runtime

    return runtime.dsn(settings)


@pytest.fixture(scope="session")
def airflow_db(settings: Settings) -> dict[str, str]:
    """Airflow's metadata database in the embedded server, migrated once per session."""
    from vectorops.airflow.env import migrate_metadata

    env = airflow_environment(settings)
    migrate_metadata(env)
    return env
