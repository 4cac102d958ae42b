"""The production compose file, Dockerfile and .dockerignore, checked statically (no Docker engine runs here).

Each check is a function returning its problems, run on the real files (expecting none) and on a broken copy
(expecting the problem), so a check that cannot fail does not pass for nothing.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Airflow service -> its command, after Airflow's official Airflow 3 compose file (airflow-init runs a script).
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker --queues ${AIRFLOW_WORKER_QUEUES:-default,heavy}",
    "airflow-worker-heavy": "celery worker --queues heavy",
    "airflow-triggerer": "triggerer",
    "airflow-init": None,
}
ONE_SHOT = {"airflow-init"}
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
REQUIRED_VAR = re.compile(r"\$\{(\w+):\?[^}]*\}")
ANY_VAR = re.compile(r"\$\{(\w+)(?::?[-?+][^}]*)?\}")
OUR_ENV = re.compile(r"(?:VECTOROPS|CHROMA)_[A-Z0-9_]+")
# scheme://user:password@ where the parts may be ${VAR...} references (whose messages may hold spaces)
_URL_USERINFO = re.compile(r"://((?:\$\{[^}]*\}|[^/@\s$])*)@")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$|TOKEN")
# The database roles (vectorops.db.roles) and which services hold each one's connection: nobody else does.
ROLE_SERVICES = {
    "vectorops_etl": {"airflow-worker", "airflow-worker-heavy", "airflow-init"},
    "vectorops_maint": {"airflow-worker", "airflow-worker-heavy", "airflow-init"},
    "vectorops_monitor": {"airflow-worker", "airflow-worker-heavy", "airflow-init"},
    "vectorops_reader": {"airflow-apiserver", "airflow-init"},
}
WELL_KNOWN_PASSWORDS = {"airflow", "postgres", "admin", "vectorops", "redis", "password", "secret", "changeme",
                        "vectorops-local", "test-password"}


# ---------------------------------------------------------------------------------------------- loading


@cache
def _compose_text() -> str:
    return COMPOSE.read_text()


def load_compose() -> dict[str, Any]:
    """The compose file with anchors and ``<<`` merge keys resolved (a fresh copy each time)."""
    return copy.deepcopy(_parsed())


@cache
def _parsed() -> dict[str, Any]:
    return yaml.safe_load(_compose_text())


def env_of(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def _size_mb(text: str | int) -> float:
    """A compose/PostgreSQL size (``4gb``, ``512MB``, ``2048``) in MiB; a bare compose number is bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", str(text), re.IGNORECASE)
    assert match, f"unreadable size {text!r}"
    number, unit = float(match[1]), match[2].lower()
    factor = {"": 1 / 2**20, "k": 1 / 2**10, "m": 1, "g": 2**10, "t": 2**20}[unit]
    return number * factor


# ------------------------------------------------------------------------------ names the code reads


def _call_name(func: ast.expr) -> tuple[str, str]:
    if isinstance(func, ast.Attribute):
        return func.attr, ast.unparse(func.value)
    if isinstance(func, ast.Name):
        return func.id, ""
    return "", ""


@cache
def env_names_read_by_code() -> frozenset[str]:
    """Environment variable names read by plugins/vectorops and dags/, found in their source.

    Reads are ``os.environ.get(X)``, ``os.environ[X]``, ``os.getenv(X)`` and the package's ``*_env(X)`` helpers
    (``env_values.int_env``, ``float_env``, ``on_off_env``, ``_env``); ``X`` is a string literal or a module-level
    string constant of the package (``SMTP_CONN_ID_ENV = "VECTOROPS_ALERT_SMTP_CONN_ID"``), wherever it is imported.
    """
    files = [*sorted((ROOT / "plugins").rglob("*.py")), *sorted((ROOT / "dags").rglob("*.py"))]
    trees = [ast.parse(path.read_text(), filename=str(path)) for path in files]
    constants: dict[str, str] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                constants.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            arg: ast.expr | None = None
            if isinstance(node, ast.Call) and node.args:
                name, receiver = _call_name(node.func)
                if (name == "get" and receiver.endswith("environ")) or name == "getenv" \
                        or re.fullmatch(r"\w*_env", name):
                    arg = node.args[0]
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                    and ast.unparse(node.value).endswith("environ"):
                arg = node.slice
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                names.add(constants[arg.id])
    return frozenset(names)


def url_passwords(value: str) -> list[str]:
    """The password part of every ``scheme://user:password@`` in ``value`` (``${VAR...}`` references kept whole)."""
    found = []
    for userinfo in _URL_USERINFO.findall(value):
        parts = re.findall(r"\$\{[^}]*\}|[^:]+|:", userinfo)
        if ":" in parts:
            found.append("".join(parts[parts.index(":") + 1:]))
    return [password for password in found if password]


# ------------------------------------------------------------------------------------------- checks


def check_services(compose: dict[str, Any]) -> list[str]:
    services = compose.get("services", {})
    problems = [f"missing service {name}" for name in [*AIRFLOW_SERVICES, "postgres", "redis", "pgvector"]
                if name not in services]
    images = set()
    for name, command in AIRFLOW_SERVICES.items():
        svc = services.get(name, {})
        images.add(svc.get("image"))
        if svc.get("build") not in (".", {"context": "."}):
            problems.append(f"{name} is not built from ./Dockerfile")
        if command is not None and svc.get("command") != command:
            problems.append(f"{name} runs {svc.get('command')!r}, not {command!r}")
    if len(images) != 1 or None in images:
        problems.append(f"the Airflow services do not share one image: {images}")
    pg = services.get("pgvector", {}).get("image", "")
    if not re.fullmatch(r"pgvector/pgvector:(?:[\w.]+-)?pg17(?:-\w+)?", pg):
        problems.append(f"pgvector image {pg!r} is not pgvector/pgvector on PostgreSQL 17")
    if not str(services.get("postgres", {}).get("image", "")).startswith("postgres:"):
        problems.append("the metadata database is not a postgres image")
    if not str(services.get("redis", {}).get("image", "")).startswith("redis:"):
        problems.append("redis is not a redis image")
    return problems


def check_executor_and_auth(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name in AIRFLOW_SERVICES:
        env = env_of(compose["services"].get(name, {}))
        if env.get("AIRFLOW__CORE__EXECUTOR") != "CeleryExecutor":
            problems.append(f"{name}: executor is {env.get('AIRFLOW__CORE__EXECUTOR')!r}")
        if not env.get("AIRFLOW__CELERY__BROKER_URL", "").startswith("redis://") \
                or "@redis:" not in env.get("AIRFLOW__CELERY__BROKER_URL", ""):
            problems.append(f"{name}: Celery broker is not the redis service")
        if env.get("AIRFLOW__CORE__AUTH_MANAGER") != FAB_AUTH_MANAGER:
            problems.append(f"{name}: auth manager is {env.get('AIRFLOW__CORE__AUTH_MANAGER')!r}")
        if any(k.startswith("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER") for k in env):
            problems.append(f"{name}: SimpleAuthManager settings")
    return problems


def check_shared_secrets(compose: dict[str, Any]) -> list[str]:
    """One JWT secret, [api] secret_key and Fernet key for all Airflow services, each from a required variable."""
    problems = []
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        values = {env_of(compose["services"].get(name, {})).get(key) for name in AIRFLOW_SERVICES}
        if len(values) != 1:
            problems.append(f"{key} differs between Airflow services (or is missing from some): {values}")
        for value in values:
            if value is None or not REQUIRED_VAR.fullmatch(value):
                problems.append(f"{key}={value!r} is not a required ${{VAR:?message}} from the environment")
    return problems


def check_no_hardcoded_secrets(compose: dict[str, Any]) -> list[str]:
    """Passwords, secrets and keys, also inside URLs, come from required variables the repository's .env lacks."""
    problems = []
    for name, svc in compose["services"].items():
        for key, value in env_of(svc).items():
            if re.search(r"PASSWORD|SECRET|FERNET", key) and not REQUIRED_VAR.fullmatch(value):
                problems.append(f"{name}: {key} is not a required variable")
            for password in url_passwords(value):
                if not REQUIRED_VAR.fullmatch(password):
                    problems.append(f"{name}: {key} has a password that is not a required variable")
    dotenv = ROOT / ".env"
    local = {line.split("=", 1)[0].strip() for line in dotenv.read_text().splitlines()
             if "=" in line and not line.lstrip().startswith("#")} if dotenv.exists() else set()
    for var in sorted(set(REQUIRED_VAR.findall(yaml.safe_dump(compose))) & local):
        problems.append(f"${{{var}}} is set in the repository's .env, whose local value compose would use")
    return problems


def check_no_default_passwords(compose: dict[str, Any], text: str) -> list[str]:
    """No password has a default or a well-known value, and Redis (the Celery broker) requires one.

    Airflow's own compose file ships ``airflow``/``airflow`` logins and a Redis without a password; here every
    secret must be a required ``${VAR:?message}``, never ``${VAR:-default}``, ``${VAR}`` (empty when unset) or a
    literal, wherever it appears: environment values, URLs, commands.
    """
    problems = []
    for match in ANY_VAR.finditer(text):
        if SECRET_NAME.search(match[1]) and not REQUIRED_VAR.fullmatch(match[0]):
            problems.append(f"${{{match[1]}}} may be empty or defaulted: {match[0]}")
    for name, svc in compose["services"].items():
        for key, value in env_of(svc).items():
            candidates = url_passwords(value) + ([value] if SECRET_NAME.search(key) else [])
            for password in candidates:
                if password.lower() in WELL_KNOWN_PASSWORDS or not REQUIRED_VAR.fullmatch(password):
                    problems.append(f"{name}: {key} has a password that is not a required variable: {password!r}")
        command = " ".join(map(str, svc.get("command") or [])) if not isinstance(svc.get("command"), str) \
            else svc["command"]
        for literal in re.findall(r"--requirepass\s+(\S+)", command):
            if "$" not in literal:
                problems.append(f"{name}: a literal --requirepass")
    broker = env_of(compose["services"].get("airflow-worker", {})).get("AIRFLOW__CELERY__BROKER_URL", "")
    if not url_passwords(broker):
        problems.append("the Celery broker URL has no password")
    redis = compose["services"].get("redis", {})
    if "--requirepass" not in json.dumps(redis.get("command")):
        problems.append("redis does not require a password (--requirepass)")
    return problems


def check_database_roles(compose: dict[str, Any]) -> list[str]:
    """Each service holds only the database roles its jobs use; the superuser's DSN only airflow-init's."""
    problems = []
    for name, svc in compose["services"].items():
        env = env_of(svc)
        if "VECTOROPS_DSN" in env and name != "airflow-init":
            problems.append(f"{name} holds VECTOROPS_DSN (the superuser of the vectors database)")
        for role, holders in ROLE_SERVICES.items():
            value = env.get(f"AIRFLOW_CONN_{role.upper()}")
            if (value is not None) != (name in holders):
                problems.append(f"{name} {'holds' if value is not None else 'lacks'} the connection of {role}")
            if value is None:
                continue
            user = re.match(r"postgres(?:ql)?://([^:@/]+):", value)
            if not user or user[1] != role or "@pgvector:" not in value:
                problems.append(f"{name}: the connection of {role} does not log in as {role} on pgvector")
            if any("PGVECTOR_PASSWORD" in password for password in url_passwords(value)):
                problems.append(f"{name}: {role} shares the superuser's password")
    if "VECTOROPS_DSN" not in env_of(compose["services"].get("airflow-init", {})):
        problems.append("airflow-init has no VECTOROPS_DSN to create the schema and the roles with")
    return problems


def check_dotenv_local_only(text: str, compose_text: str) -> list[str]:
    """The repository's .env holds local-only values: no connection, DSN or webhook, no secret compose reads."""
    problems = []
    assigned = dict(line.split("=", 1) for line in text.splitlines()
                    if "=" in line and not line.lstrip().startswith("#"))
    for name, value in assigned.items():
        name = name.strip()
        if name.startswith("AIRFLOW_CONN_") or name in ("VECTOROPS_DSN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") \
                or "WEBHOOK" in name or "://" in value:
            problems.append(f".env sets {name}: production credentials belong in Airflow connections or a secrets "
                            "backend")
        if SECRET_NAME.search(name) and re.search(rf"\$\{{{re.escape(name)}\b", compose_text):
            problems.append(f".env sets {name}, a secret docker-compose.yaml reads")
    return problems


def check_healthchecks(compose: dict[str, Any]) -> list[str]:
    services = compose["services"]
    problems = [f"{name} has no healthcheck" for name, svc in services.items()
                if name not in ONE_SHOT and not (svc.get("healthcheck") or {}).get("test")]
    for name, svc in services.items():
        depends = svc.get("depends_on") or {}
        for dep, spec in (depends.items() if isinstance(depends, dict) else []):
            if spec.get("condition") == "service_healthy" and not (services.get(dep, {}).get("healthcheck")):
                problems.append(f"{name} waits for {dep} to be healthy, which has no healthcheck")
    return problems


def _bind_sources(compose: dict[str, Any]) -> list[tuple[str, str]]:
    named = set(compose.get("volumes") or {})
    found = []
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes") or []:
            source = volume.get("source") if isinstance(volume, dict) else volume.split(":", 1)[0]
            if isinstance(volume, str) and volume.startswith("${"):
                source = volume[: volume.index("}") + 1]
            if source and source not in named:
                found.append((name, source))
    return found


def check_mounts(compose: dict[str, Any], readme: str) -> list[str]:
    """Relative bind mounts exist in the checkout; an external one is a required, documented variable."""
    problems = []
    for service, source in _bind_sources(compose):
        if source.startswith("${"):
            match = REQUIRED_VAR.fullmatch(source)
            default = re.fullmatch(r"\$\{\w+:?-([^}]+)\}", source)
            if match and match[1] not in readme:
                problems.append(f"{service}: {source} is not documented in docs/scaling-out.md's Scaling out section")
            elif default and not (ROOT / default[1]).exists():
                problems.append(f"{service}: default of {source} does not exist")
            elif not match and not default:
                problems.append(f"{service}: {source} neither is required nor has a default")
        elif source.startswith("/"):
            problems.append(f"{service}: absolute host path {source}")
        elif not (ROOT / source).exists():
            problems.append(f"{service}: {source} does not exist in the repository")
    return problems


def check_shm_size(compose: dict[str, Any]) -> list[str]:
    pgvector = compose["services"].get("pgvector", {})
    if "shm_size" not in pgvector:
        return ["pgvector has no shm_size"]
    shm = _size_mb(pgvector["shm_size"])
    problems = []
    for name in AIRFLOW_SERVICES:
        raw = env_of(compose["services"].get(name, {})).get("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB")
        if raw is None or not raw.isdigit():
            problems.append(f"{name}: VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB is not set explicitly ({raw!r})")
        elif shm <= int(raw):
            problems.append(f"pgvector shm_size {pgvector['shm_size']} is not above {name}'s "
                            f"VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB={raw}")
    command = pgvector.get("command") or []
    command = command.split() if isinstance(command, str) else command
    for setting in command:
        if str(setting).startswith("maintenance_work_mem=") and shm <= _size_mb(str(setting).split("=", 1)[1]):
            problems.append(f"pgvector shm_size is not above the server's {setting}")
    return problems


def check_env_names(compose: dict[str, Any], known: frozenset[str]) -> list[str]:
    return [f"{name}: {key} is not read by vectorops" for name, svc in compose["services"].items()
            for key in env_of(svc) if OUR_ENV.fullmatch(key) and key not in known]


def check_dockerfile(text: str) -> list[str]:
    problems = []
    froms = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    if not froms or not re.fullmatch(r"apache/airflow:3\.3\.2(?:-python3\.\d+)?", froms[-1]):
        problems.append(f"final stage is FROM {froms[-1] if froms else None}, not apache/airflow:3.3.2")
    runs = " ".join(re.findall(r"^RUN\s+((?:.*\\\n)*.*)", text, re.MULTILINE))
    if not re.search(r"pip install[^&;]*\s-r\s+\S*requirements\.txt", runs):
        problems.append("no `pip install -r requirements.txt`")
    if not re.search(r"^COPY\s.*\brequirements\.txt\b", text, re.MULTILINE):
        problems.append("requirements.txt is not copied")
    if "apache-airflow-providers-fab" not in text and "apache-airflow-providers-fab" not in \
            (ROOT / "requirements.txt").read_text():
        problems.append("the FAB auth manager's provider is not installed")
    for folder in ("dags", "plugins"):
        if not re.search(rf"^COPY\s.*\s{folder}/?\s+/opt/airflow/{folder}/?\s*$", text, re.MULTILINE):
            problems.append(f"{folder}/ is not copied to /opt/airflow/{folder}")
    if re.search(r"^USER\s+root\s*$", text, re.MULTILINE) and \
            re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)[-1] != "airflow":
        problems.append("the image does not end as the airflow user")
    return problems


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus ``**``) as a regular expression."""
    parts = re.split(r"(\*\*/?|\*|\?)", pattern.strip("/"))
    wild = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wild.get(part, re.escape(part)) for part in parts))


def dockerignore_excludes(rules: list[str], path: str) -> bool:
    """Whether ``path`` (or a folder above it) is excluded: the last matching rule wins, ``!`` re-includes."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in rules:
        negated = rule.startswith("!")
        regex = _ignore_regex(rule[1:] if negated else rule)
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def check_dockerignore(dockerfile: str, ignore_text: str) -> list[str]:
    rules = [line.strip() for line in ignore_text.splitlines() if line.strip() and not line.startswith("#")]
    problems = []
    for sources in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+?)\s+\S+\s*$", dockerfile, re.MULTILINE):
        for source in sources.split():
            if dockerignore_excludes(rules, source):
                problems.append(f"COPY {source} is excluded by .dockerignore: the build would fail")
    for private in (".env", ".vectorops/pgdata/PG_VERSION", ".venv/bin/python", ".git/HEAD"):
        if not dockerignore_excludes(rules, private):
            problems.append(f"{private} would be sent to the Docker build")
    return problems


def _readme_section() -> str:
    text = (ROOT / "docs" / "scaling-out.md").read_text()
    match = re.search(r"^## Scaling out\s*$(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    return match[1] if match else ""


# ---------------------------------------------------------------------------------------- the tests


def test_compose_parses_with_the_official_layout() -> None:
    assert check_services(load_compose()) == []


def test_celery_with_redis_and_a_production_auth_manager() -> None:
    assert check_executor_and_auth(load_compose()) == []
    assert "SimpleAuthManager" not in _compose_text()


def test_one_shared_jwt_secret_and_no_hardcoded_secrets() -> None:
    compose = load_compose()
    assert check_shared_secrets(compose) == []
    assert check_no_hardcoded_secrets(compose) == []


def test_no_default_or_well_known_passwords_and_redis_requires_one() -> None:
    assert check_no_default_passwords(load_compose(), _compose_text()) == []


def test_each_service_holds_only_the_database_roles_it_uses() -> None:
    assert check_database_roles(load_compose()) == []


def test_dotenv_holds_only_local_values() -> None:
    assert check_dotenv_local_only((ROOT / ".env").read_text(), _compose_text()) == []


def test_every_long_running_service_has_a_healthcheck() -> None:
    assert check_healthchecks(load_compose()) == []


def test_bind_mounts_exist_and_include_dags_and_plugins() -> None:
    compose = load_compose()
    assert check_mounts(compose, _readme_section()) == []
    for name in AIRFLOW_SERVICES:
        targets = {v.split(":")[1] for v in compose["services"][name]["volumes"] if isinstance(v, str)}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins"} <= targets, name


def test_shm_size_is_above_maintenance_work_mem() -> None:
    assert check_shm_size(load_compose()) == []


def test_env_names_are_ones_the_code_reads() -> None:
    known = env_names_read_by_code()
    # The scan must see each way the package reads a variable, or it would wave everything through.
    assert {"VECTOROPS_DSN", "CHROMA_DB_PATH", "VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", "VECTOROPS_HOME",
            "VECTOROPS_ALERT_WEBHOOK_CONN_ID", "VECTOROPS_ALERT_EMAIL_TO", "VECTOROPS_ALERT_TIMEOUT_S"} <= known
    compose = load_compose()
    assert any(OUR_ENV.fullmatch(k) for k in env_of(compose["services"]["airflow-worker"]))
    assert check_env_names(compose, known) == []


def test_dockerfile_builds_on_airflow_332_with_the_requirements() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert check_dockerfile(dockerfile) == []
    assert check_dockerignore(dockerfile, DOCKERIGNORE.read_text()) == []


def test_readme_scaling_out_section_has_the_commands() -> None:
    section = _readme_section()
    assert "docker compose up airflow-init" in section
    assert "--scale airflow-worker=" in section
    for var in sorted(set(REQUIRED_VAR.findall(yaml.safe_dump(load_compose())))):
        assert var in section, f"docs/scaling-out.md's Scaling out section does not mention ${var}"


# --------------------------------------------------------------------- the checks can fail


def _broken(mutate: Any) -> dict[str, Any]:
    compose = load_compose()
    mutate(compose["services"])
    return compose


@pytest.mark.parametrize(("check", "mutate"), [
    (check_services, lambda s: s.pop("airflow-dag-processor")),
    (check_services, lambda s: s["pgvector"].update(image="postgres:17")),
    (check_services, lambda s: s["airflow-worker"].update(command="scheduler")),
    (check_executor_and_auth, lambda s: s["airflow-worker"]["environment"].update(
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")),
    (check_executor_and_auth, lambda s: s["airflow-scheduler"].update(
        environment={**s["airflow-scheduler"]["environment"], "AIRFLOW__CORE__EXECUTOR": "LocalExecutor"})),
    (check_shared_secrets, lambda s: s["airflow-triggerer"].update(
        environment={**s["airflow-triggerer"]["environment"], "AIRFLOW__API_AUTH__JWT_SECRET": "${OTHER:?x}"})),
    (check_shared_secrets, lambda s: [svc.get("environment", {}).update(AIRFLOW__API_AUTH__JWT_SECRET="s3cret")
                                      for svc in s.values()]),
    (check_no_hardcoded_secrets, lambda s: s["pgvector"]["environment"].update(POSTGRES_PASSWORD="vectorops")),
    (check_no_hardcoded_secrets, lambda s: s["airflow-worker"]["environment"].update(
        VECTOROPS_DSN="postgresql://vectorops:pw@pgvector/vectorops")),
    (check_no_hardcoded_secrets, lambda s: s["pgvector"]["environment"].update(
        POSTGRES_PASSWORD="${VECTOROPS_DB_PASSWORD:?set it}")),
    (check_healthchecks, lambda s: s["airflow-triggerer"].pop("healthcheck")),
    (check_healthchecks, lambda s: s["pgvector"].pop("healthcheck")),
    (check_shm_size, lambda s: s["pgvector"].update(shm_size="2gb")),
    (check_shm_size, lambda s: s["airflow-worker"]["environment"].pop("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB")),
    (check_env_names, lambda s: s["airflow-worker"]["environment"].update(VECTOROPS_MAX_MAINT_MEM="1")),
    (check_executor_and_auth, lambda s: s["airflow-apiserver"]["environment"].pop("AIRFLOW__CORE__AUTH_MANAGER")),
    (check_no_default_passwords, lambda s: s["postgres"]["environment"].update(POSTGRES_PASSWORD="airflow")),
    (check_no_default_passwords, lambda s: s["airflow-init"]["environment"].update(
        _AIRFLOW_WWW_USER_PASSWORD="${_AIRFLOW_WWW_USER_PASSWORD:-admin}")),
    (check_no_default_passwords, lambda s: s["airflow-worker"]["environment"].update(
        AIRFLOW__CELERY__BROKER_URL="redis://:@redis:6379/0")),
    (check_no_default_passwords, lambda s: s["redis"].update(command=["redis-server"])),
    (check_no_default_passwords, lambda s: s["airflow-worker"]["environment"].update(
        AIRFLOW_CONN_VECTOROPS_ETL="postgresql://vectorops_etl:vectorops@pgvector:5432/vectorops")),
    (check_database_roles, lambda s: s["airflow-worker"]["environment"].update(
        VECTOROPS_DSN="postgresql://vectorops:${PGVECTOR_PASSWORD:?x}@pgvector/vectorops")),
    (check_database_roles, lambda s: s["airflow-apiserver"]["environment"].update(
        AIRFLOW_CONN_VECTOROPS_ETL=s["airflow-worker"]["environment"]["AIRFLOW_CONN_VECTOROPS_ETL"])),
    (check_database_roles, lambda s: s["airflow-worker"]["environment"].pop("AIRFLOW_CONN_VECTOROPS_MAINT")),
    (check_database_roles, lambda s: s["airflow-worker"]["environment"].update(
        AIRFLOW_CONN_VECTOROPS_MONITOR="postgresql://vectorops:${PGVECTOR_PASSWORD:?x}@pgvector:5432/vectorops")),
])
def test_each_check_reports_a_broken_compose_file(check: Any, mutate: Any) -> None:
    compose = _broken(mutate)
    if check is check_env_names:
        assert check(compose, env_names_read_by_code())
    elif check is check_no_default_passwords:
        assert check(compose, yaml.safe_dump(compose))
    else:
        assert check(compose)


@pytest.mark.parametrize(("text", "found"), [
    ("postgresql://u:${P:?set the password here}@h:5/db", ["${P:?set the password here}"]),
    ("http://${U:-admin}:${P:?x}@api:8080", ["${P:?x}"]),
    ("redis://:secret@redis:6379/0", ["secret"]),
    ("redis://:@redis:6379/0", []),
    ("postgresql://h/db", []),
])
def test_url_passwords_reads_variables_with_spaces(text: str, found: list[str]) -> None:
    assert url_passwords(text) == found


@pytest.mark.parametrize("line", ["AIRFLOW_CONN_VECTOROPS_ETL=postgresql://vectorops_etl:pw@db/vectorops",
                                  "VECTOROPS_DSN=postgresql://vectorops:pw@db/vectorops",
                                  "VECTOROPS_ALERT_WEBHOOK=https://hooks.example.com/abc",
                                  "PGVECTOR_PASSWORD=local"])
def test_dotenv_check_reports_production_values(line: str) -> None:
    assert check_dotenv_local_only(f"VECTOROPS_HOME=.vectorops\n{line}\n", _compose_text())


@pytest.mark.parametrize("volume", ["./no-such-dir:/opt/airflow/x", "${UNDOCUMENTED_DIR:?set it}:/x",
                                    "${SOME_DIR:-./no-such-default}:/x", "/srv/data:/x"])
def test_mount_check_reports_missing_or_undocumented_paths(volume: str) -> None:
    compose = _broken(lambda s: s["airflow-worker"]["volumes"].append(volume))
    assert check_mounts(compose, _readme_section())


@pytest.mark.parametrize(("old", "new"), [
    ("FROM apache/airflow:3.3.2-python3.11", "FROM apache/airflow:3.2.0"),
    ("-r /opt/vectorops/requirements.txt", "/opt/vectorops/requirements.txt"),
    ("COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/\n", ""),
])
def test_dockerfile_check_reports_a_broken_dockerfile(old: str, new: str) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    assert check_dockerfile(text.replace(old, new))


def test_dockerignore_check_reports_excluded_sources_and_leaked_files() -> None:
    dockerfile = DOCKERFILE.read_text()
    ignore = DOCKERIGNORE.read_text()
    assert check_dockerignore(dockerfile, ignore.replace("!plugins\n", ""))
    assert check_dockerignore(dockerfile, "!*\n")


def test_env_name_scan_ignores_names_nobody_reads() -> None:
    assert "VECTOROPS_NO_SUCH_SETTING" not in env_names_read_by_code()
    assert "VECTOROPS_OWNER_TOKEN" in env_names_read_by_code()
