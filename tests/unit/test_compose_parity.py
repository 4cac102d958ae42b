"""The Celery e2e cluster runs what ``docker-compose.yaml`` declares (issue 25): same executor, broker, result
backend, queues, pools, connections and secrets. Its settings are generated from the compose file
(:mod:`tests.e2e.compose_env`); these checks hold every difference to a named, explained list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e import celery_cluster, compose_env
from vectorops.airflow.pools import HEAVY_POOL_SLOTS_ENV, HEAVY_QUEUE

SERVICES = [*celery_cluster.SERVICES, "airflow-worker", "airflow-worker-heavy", "airflow-init"]
ROOT = Path("/tmp/parity")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_env.load_compose()


@pytest.fixture(scope="module")
def values() -> dict[str, str]:
    return celery_cluster.compose_values(ROOT / "chroma")


def _environment(compose: dict[str, Any], values: dict[str, str], service: str) -> dict[str, str]:
    localize = celery_cluster.localizer(ROOT, ROOT / "chroma", 1001, 1002, 1003)
    return celery_cluster.process_environment(compose, service, values, localize,
                                              celery_cluster.added_settings(ROOT, values, 1003))


@pytest.mark.parametrize("service", SERVICES)
def test_each_compose_setting_reaches_the_cluster_or_is_named_as_changed(compose: dict[str, Any],
                                                                         values: dict[str, str], service: str) -> None:
    declared = compose_env.service_environment(compose, service, values, compose_env.Localizer(hosts={}))
    localized = compose_env.service_environment(compose, service, values,
                                                celery_cluster.localizer(ROOT, ROOT / "chroma", 1001, 1002, 1003))
    env = _environment(compose, values, service)
    changed = {key for key in declared if env.get(key) != localized[key]}
    assert changed == set(compose_env.ONE_MACHINE) & set(declared), changed
    extra = set(env) - set(declared) - set(compose_env.ADDED) - set(celery_cluster._BASE_ENV)
    assert extra == set(), f"{service}: set by the test but neither in the compose file nor named in ADDED: {extra}"
    assert not set(compose_env.ADDED) & set(declared), "a compose setting the test changes belongs in ONE_MACHINE"


def test_every_named_change_is_of_a_setting_the_compose_file_has(compose: dict[str, Any],
                                                                  values: dict[str, str]) -> None:
    declared = set().union(*(compose_env.service_environment(compose, s, values, compose_env.Localizer(hosts={}))
                             for s in SERVICES))
    assert set(compose_env.ONE_MACHINE) <= declared, set(compose_env.ONE_MACHINE) - declared
    assert all(reason.strip() for reason in [*compose_env.ONE_MACHINE.values(), *compose_env.ADDED.values()])


def test_localized_settings_point_at_this_machine(compose: dict[str, Any], values: dict[str, str]) -> None:
    worker = _environment(compose, values, "airflow-worker")
    assert worker["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{values['REDIS_PASSWORD']}@127.0.0.1:1002/0"
    assert worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == \
        f"postgresql+psycopg://airflow:{values['AIRFLOW_DB_PASSWORD']}@127.0.0.1:1001/airflow"
    assert worker["AIRFLOW__CELERY__RESULT_BACKEND"] == \
        f"db+postgresql+psycopg://airflow:{values['AIRFLOW_DB_PASSWORD']}@127.0.0.1:1001/airflow"
    assert worker["AIRFLOW_CONN_VECTOROPS_ETL"] == \
        f"postgresql://vectorops_etl:{values['PGVECTOR_ETL_PASSWORD']}@127.0.0.1:1001/vectorops"
    assert worker["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:1003/execution/"
    assert worker["AIRFLOW_CONN_VECTOROPS_API"].endswith("@127.0.0.1:1003")
    assert (worker["CHROMA_DB_PATH"], worker["VECTOROPS_HOME"]) == (str(ROOT / "chroma"), str(ROOT / "vectorops-home"))
    assert worker[HEAVY_POOL_SLOTS_ENV] == "1"
    secrets = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")
    assert len({tuple(_environment(compose, values, s)[k] for k in secrets) for s in SERVICES}) == 1


def test_the_workers_serve_the_default_and_the_heavy_queue(compose: dict[str, Any], values: dict[str, str]) -> None:
    def queues(service: str, extra: dict[str, str] | None = None) -> set[str]:
        words = compose_env.service_command(compose, service, {**values, **(extra or {})})
        return set(words[words.index("--queues") + 1].split(","))

    assert queues("airflow-worker") == {"default", HEAVY_QUEUE}
    assert queues("airflow-worker", {"AIRFLOW_WORKER_QUEUES": "default"}) == {"default"}
    assert queues("airflow-worker-heavy") == {HEAVY_QUEUE}
    assert compose["services"]["airflow-worker-heavy"]["profiles"] == ["heavy-worker"]


def test_init_creates_the_schema_the_roles_and_the_heavy_pool(compose: dict[str, Any]) -> None:
    steps = celery_cluster.init_steps(compose, celery_cluster.localizer(ROOT, ROOT / "c", 1, 2, 3))
    runs = [words[1:] for kind, words in steps if kind == "run"]
    assert [kind for kind, _ in steps].count("migrate") == 1
    assert ["-m", "vectorops.cli", "db", "up"] in runs and ["-m", "vectorops.cli", "pools"] in runs
    assert ("mkdir", [str(ROOT / "logs"), str(ROOT / "vectorops-home" / "backups")]) in steps


def test_an_init_line_the_cluster_does_not_know_fails(compose: dict[str, Any]) -> None:
    broken = compose_env.load_compose()
    broken["services"]["airflow-init"]["command"][-1] += "airflow pools import pools.json\n"
    with pytest.raises(AssertionError, match="does not know how to run airflow-init's line 'airflow pools import"):
        celery_cluster.init_steps(broken, celery_cluster.localizer(ROOT, ROOT / "c", 1, 2, 3))


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("${A:?set A}", {"A": "x"}, "x"),
    ("${A:-default}", {}, "default"),
    ("${A:-default}", {"A": ""}, "default"),
    ("${A-default}", {"A": ""}, ""),
    ("${A}", {}, ""),
    ('exec redis-server --requirepass "$$REDIS_PASSWORD"', {}, 'exec redis-server --requirepass "$REDIS_PASSWORD"'),
])
def test_interpolation_as_compose_does_it(text: str, values: dict[str, str], expected: str) -> None:
    assert compose_env.interpolate(text, values) == expected


def test_a_missing_required_variable_is_named() -> None:
    with pytest.raises(KeyError, match="compose variable REDIS_PASSWORD is required: set REDIS_PASSWORD"):
        compose_env.interpolate("redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD}@redis:6379/0", {})


def test_localizer_rewrites_hosts_and_paths_only() -> None:
    localize = compose_env.Localizer(hosts={"postgres": "127.0.0.1:9", "redis:6379": "127.0.0.1:8"},
                                     paths={"/opt/airflow/chroma": Path("/data/c")})
    assert localize("postgresql+psycopg://airflow:pw@postgres/airflow") == \
        "postgresql+psycopg://airflow:pw@127.0.0.1:9/airflow"
    assert localize("redis://:pw@redis:6379/0") == "redis://:pw@127.0.0.1:8/0"
    assert localize("/opt/airflow/chroma/sub") == "/data/c/sub" and localize("/opt/airflow/chromax") == \
        "/opt/airflow/chromax"
    assert localize("postgres") == "postgres"  # a bare word is not a URL's host
