"""The scaled-out test cluster's settings, generated from ``docker-compose.yaml`` so the two cannot drift apart.

Each Airflow process of ``tests/e2e/test_celery.py`` gets the environment its compose service declares: the
``${VAR...}`` references filled from the test's values, as ``docker compose`` fills them, and the compose hosts and
container paths rewritten to this machine (:class:`Localizer`). What the test must set otherwise is in
:data:`ONE_MACHINE` (a compose setting changed, with the reason) and :data:`ADDED` (a setting the image gives
through its defaults or ``ENV``), and nowhere else; ``tests/unit/test_compose_parity.py`` holds every compose key
to one of: passed through, localized, or named there.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ is a literal $
_REFERENCE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")

#: compose settings the one-machine cluster changes, and why
ONE_MACHINE: dict[str, str] = {
    "AIRFLOW__CORE__AUTH_MANAGER": "the FAB auth manager cannot be installed beside the pinned set (constraints.txt: "
                                   "flask-appbuilder refuses its python-dateutil); SimpleAuthManager logs in here",
}
#: settings the image gives through its defaults or ENV, set by the test for this machine, and why
ADDED: dict[str, str] = {
    "AIRFLOW_HOME": "the image's /opt/airflow",
    "AIRFLOW__CORE__DAGS_FOLDER": "the image's /opt/airflow/dags (the compose file mounts ./dags there)",
    "AIRFLOW__CORE__PLUGINS_FOLDER": "the image's /opt/airflow/plugins (mounted from ./plugins)",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": "the image's /opt/airflow/logs (the airflow-logs volume)",
    "PYTHONPATH": "the image's ENV PYTHONPATH=/opt/airflow/plugins",
    "PATH": "the image's PATH, with this venv's airflow first",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "airflow-init's admin (_AIRFLOW_WWW_USER_*), for SimpleAuthManager",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "its password (airflow-init creates the FAB user instead)",
    "AIRFLOW__API__HOST": "the container listens on 0.0.0.0 behind a published port; here 127.0.0.1",
    "AIRFLOW__API__PORT": "a free port instead of 8080",
    "AIRFLOW__API__WORKERS": "one uvicorn worker: two cores run the whole cluster",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "each container serves logs on 8793; on one host each process needs "
                                                "its own port",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "the same for the triggerer's 8794",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "containers have distinct hostnames; here each worker is given its own",
    "E2E_WORKER_HOSTNAME": "the name that callable returns",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "a lost worker's task is failed and retried after 300 s "
                                                           "by default; the test waits a few seconds",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "checked every 10 s by default",
    "VECTOROPS_RETRY_DELAY_S": "the retry comes at once instead of after 15 s",
    "VECTOROPS_CHUNK_ROWS": "small chunks, so a small collection makes several",
}


@dataclass(frozen=True)
class Localizer:
    """Where the compose services' hosts and container paths are on this machine.

    :param hosts: ``compose host[:port]`` → ``host:port`` here (``postgres`` → ``127.0.0.1:54321``).
    :param paths: container path → path here, longest first when they nest.
    """

    hosts: Mapping[str, str]
    paths: Mapping[str, Path] = field(default_factory=dict)

    def __call__(self, value: str) -> str:
        for compose_host, here in self.hosts.items():
            value = re.sub(rf"(?<=[@/]){re.escape(compose_host)}(?=[/:]|$)", here, value)
        for container, here_path in sorted(self.paths.items(), key=lambda item: -len(item[0])):
            if value == container or value.startswith(container + "/"):
                value = str(here_path) + value[len(container):]
        return value


def load_compose(path: Path = COMPOSE) -> dict[str, Any]:
    """The compose file, anchors and ``<<`` merge keys resolved."""
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """``text`` with its ``${...}`` references filled from ``values`` as ``docker compose`` fills them.

    :raises KeyError: naming a required variable (``${VAR:?...}``) that ``values`` lacks.
    """
    def fill(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, op, arg = match[1], match[2] or "", match[3] or ""
        value = values.get(name)
        empty = value is None or (value == "" and op.startswith(":"))
        if op.endswith("?") and empty:
            raise KeyError(f"compose variable {name} is required: {arg}")
        if op.endswith("-") and empty:
            return arg
        return value or ""

    return _REFERENCE.sub(fill, text)


def service_environment(compose: Mapping[str, Any], service: str, values: Mapping[str, str],
                        localize: Localizer) -> dict[str, str]:
    """The environment compose gives ``service``, filled from ``values`` and localized.

    :param compose: :func:`load_compose`'s result.
    :param service: the compose service.
    :param values: the variables compose reads from the shell.
    :param localize: this machine's hosts and paths.
    """
    raw = compose["services"][service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(key): localize(interpolate("" if value is None else str(value), values)) for key, value in raw.items()}


def service_command(compose: Mapping[str, Any], service: str, values: Mapping[str, str]) -> list[str]:
    """The service's command, filled from ``values``, as words (``airflow`` is the image's entrypoint)."""
    command = compose["services"][service]["command"]
    words = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
    return [interpolate(word, values) for word in words]


def init_script(compose: Mapping[str, Any], service: str = "airflow-init") -> list[str]:
    """The script of the one-shot init service (``bash -c <script>``), line by line."""
    command = compose["services"][service]["command"]
    script = command[-1] if isinstance(command, list) else str(command)
    return [line.strip() for line in script.splitlines() if line.strip()]
