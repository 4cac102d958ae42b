"""The CLI as an operator meets it: a 9-collection ``vectorops migrate`` that fits on one screen and keeps the
steps' lines in its log file, without importing Airflow; ``--dsn`` taken and used by every command that touches
the database; and a wrong ``--chroma-path`` refused in one line before Airflow is even imported."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.support import add_records, chroma_client
from vectorops.cli import main
from vectorops.naming import table_name_for

SCHEMA = "cliexp"
ROWS = 200
# odd but legal Chroma names: dots, dashes, digits first, a long one
NAMES = ["exp-docs", "exp.faq", "exp_images", "0-first", "exp.v2.notes", "exp-a", "exp-b", "exp-c",
         "exp-" + "long" * 12]
#: a database nothing listens on: VECTOROPS_DSN is wrong, --dsn must be what the command uses
WRONG_DSN = "host=127.0.0.1 port=1 dbname=nowhere user=nobody connect_timeout=3"


def _vectorops(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VECTOROPS_DSN"}
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "vectorops.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma-cli-experience")
    client = chroma_client(path)
    rng = np.random.default_rng(21)
    for n, name in enumerate(NAMES):
        col = client.create_collection(name, configuration={"hnsw": {"space": ("cosine", "l2", "ip")[n % 3]}})
        add_records(col, [f"{n}-{i}" for i in range(ROWS)], rng.standard_normal((ROWS, 8), dtype=np.float32),
                    [f"{name} text {i}" for i in range(ROWS)], [{"i": i} for i in range(ROWS)])
    return path


@pytest.fixture(scope="module")
def quiet_migration(store: Path, airflow_db: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One default (quiet) ``vectorops migrate`` of the 9 collections, stdout and stderr not terminals."""
    return _vectorops("migrate", "--chroma-path", str(store), "--schema", SCHEMA)


@pytest.mark.slow  # uses the module's one migration (about a minute on 2 cores)
def test_a_nine_collection_migration_fits_on_one_screen_and_ends_with_its_summary(
        quiet_migration: subprocess.CompletedProcess[str]) -> None:
    out, err = quiet_migration.stdout.splitlines(), quiet_migration.stderr.splitlines()
    assert quiet_migration.returncode == 0, quiet_migration.stderr[-3000:]
    assert len(out) + len(err) <= 60, quiet_migration.stdout + quiet_migration.stderr
    # stdout is the summary table and nothing else: header, rule, one row per collection, the totals line
    assert out[0].split()[:3] == ["collection", "status", "read"] and set(out[1]) == {"-"}, out
    rows = {line.split()[0]: line for line in out[2:-1]}
    assert sorted(rows) == sorted(name[:30] for name in NAMES), out
    assert all(line.split()[1] == "promoted" and f" {ROWS} " in line for line in rows.values()), out
    assert re.fullmatch(rf"9 collection\(s\), {9 * ROWS} rows in [0-9.]+s \(\d+ rows/s end to end\)", out[-1]), out
    # stderr names the log file, once, and says nothing else (no progress bar off a terminal)
    assert len(err) == 1 and err[0].startswith("log: "), err


@pytest.mark.slow  # uses the module's one migration (about a minute on 2 cores)
def test_the_log_file_holds_the_steps_lines(quiet_migration: subprocess.CompletedProcess[str]) -> None:
    log = Path(quiet_migration.stderr.splitlines()[-1].removeprefix("log: "))
    assert log.is_file() and log.parent.name == "logs" and log.name.startswith("cli-migrate-")
    text = log.read_text()
    # the steps' own lines, per collection: staged and planned, each chunk, the gate, the promotion
    for name in NAMES:
        assert re.search(rf"collection '{re.escape(name)}(@\w+)?' chunk 0: read {ROWS},", text), name
    assert text.count("validation gate: collection") == len(NAMES) and text.count("promoted to cliexp.") == len(NAMES)
    assert len(text.splitlines()) > 50, text  # what the terminal was spared


def test_a_migration_runs_in_this_process_without_importing_airflow(store: Path, dsn: str) -> None:
    """Airflow's import, the DAG's parse and its execution API cost about 9 s before a row moved: the default run
    calls the steps without them (``--airflow`` runs the DAG)."""
    result = _vectorops(code=(
        "import sys; from vectorops.cli import main; "
        f"code = main.main(['migrate', '--chroma-path', {str(store)!r}, '--collection', 'exp-a', '--schema', "
        "'cliexp_noaf', '--previous-table', 'keep']); print('airflow' in sys.modules); sys.exit(code)"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "False", result.stdout
    assert next(line for line in result.stdout.splitlines() if line.startswith("exp-a")).split()[1] == "promoted"
    with psycopg.connect(dsn) as conn:
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier("cliexp_noaf", table_name_for("exp-a")))).fetchone()
    assert count == (ROWS,)


@pytest.mark.slow  # uses the module's one migration (about a minute on 2 cores)
def test_the_progress_poll_reads_the_runs_bars_from_the_ledger(quiet_migration: subprocess.CompletedProcess[str],
                                                               dsn: str) -> None:
    from vectorops.cli.progress import MigrationProgress

    with psycopg.connect(dsn) as conn:
        tokens = conn.execute("SELECT DISTINCT owner_token FROM vectorops.migration_runs WHERE target_schema = %s",
                              (SCHEMA,)).fetchall()
    assert len(tokens) == 1 and tokens[0][0], tokens  # the CLI's owner token marks its run's attempts
    with MigrationProgress(dsn, tokens[0][0], io.StringIO(), force_terminal=True) as bars:
        pass  # entering polls once, leaving polls the last state
    text = bars.text()
    for name in NAMES:
        assert re.search(rf"{re.escape(name[:15])} promoted .* {ROWS}/{ROWS} ", text), text
    assert len(text.strip().splitlines()) == len(NAMES), text  # one line per collection, none wrapped


@pytest.mark.slow  # uses the module's one migration (about a minute on 2 cores)
def test_verbose_prints_what_the_quiet_default_keeps_in_its_log(quiet_migration: subprocess.CompletedProcess[str],
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    assert main.main(["validate", "--collection", "exp-a"]) == 0
    quiet = capfd.readouterr()
    assert main.main(["validate", "-v", "--collection", "exp-a"]) == 0
    loud = capfd.readouterr()
    (announced,) = quiet.err.splitlines()
    def timeless(text: str) -> str:  # the two runs' clocks and durations differ
        return re.sub(r"[\d.]+s\b", "Ns", re.sub(r"^\d{4}-\d\d-\d\d [\d:,]+ ", "", text, flags=re.MULTILINE))

    kept = [line for line in timeless(Path(announced.removeprefix("log: ")).read_text()).splitlines()
            if line.startswith("INFO vectorops.")]
    assert kept and all(line in timeless(loud.err) for line in kept), (kept, loud.err)
    assert len(loud.out.splitlines()) + len(loud.err.splitlines()) > len(quiet.out.splitlines()), loud
    assert "log: " not in loud.err and "details: " not in loud.err
    assert quiet.out.splitlines()[0].startswith("PASS exp-a") and loud.out.count("PASS exp-a") == 1


@pytest.mark.slow  # uses the module's one migration (about a minute on 2 cores)
@pytest.mark.parametrize("argv", [
    ["validate", "--collection", "exp-b"],
    ["maintain", "--collection", "exp-b", "--dry-run"],
    ["monitor", "--collection", "exp-b"],
])
def test_the_database_commands_use_dsn_when_vectorops_dsn_is_wrong(
        quiet_migration: subprocess.CompletedProcess[str], dsn: str, argv: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VECTOROPS_DSN", WRONG_DSN)
    assert main.main(["validate", "--collection", "exp-b"]) == 1  # without --dsn: the wrong one, refused
    assert "vectorops: error: " in capsys.readouterr().err
    code = main.main([*argv, "--dsn", dsn])
    out = capsys.readouterr().out
    # the monitor exits 1 on a latency breach, which a loaded machine may cause: its table is printed either way
    assert code == 0 or (argv[0] == "monitor" and code == 1), out
    assert "exp-b" in out or "exp_b" in out, out


@pytest.mark.slow  # uses the module's one migration (about a minute on 2 cores)
def test_backup_and_restore_use_dsn_and_dest(quiet_migration: subprocess.CompletedProcess[str], dsn: str,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str], settings: Any) -> None:
    monkeypatch.setenv("VECTOROPS_DSN", WRONG_DSN)
    dest = tmp_path / "elsewhere"
    assert main.main(["backup", "--dsn", dsn, "--dest", str(dest), "--no-retention"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    taken = re.search(r"^backup (\S+) in (\S+):", out, re.MULTILINE)
    assert taken and Path(taken[2]).parent == dest and (Path(taken[2]) / "manifest.json").is_file(), out
    assert "VERIFIED" in out
    # restore reads the backup and the target named by --dsn (here: it holds the schemas already, so it refuses)
    assert main.main(["restore", "--backup", taken[2], "--dsn", dsn]) == 2
    err = capsys.readouterr().err.splitlines()
    database = conninfo_to_dict(dsn)["dbname"]
    assert err[0].startswith(f"vectorops: error: target database {database} ") and taken[1] in err[0], err
    assert len(err) == 2 and err[1].startswith("details: "), err


def test_a_wrong_chroma_path_is_one_line_and_the_log_path_before_airflow_is_imported(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-store"
    result = _vectorops(code=(
        "import sys; from vectorops.cli.main import main; code = main(['migrate', '--chroma-path', "
        f"{str(missing)!r}]); print('airflow' in sys.modules); sys.exit(code)"))
    assert result.returncode == 2, result.stderr
    assert result.stdout == "False\n"  # refused before Airflow (seconds of imports) or any run
    error, details = result.stderr.splitlines()
    assert error == f"vectorops: error: Chroma path {str(missing)!r} does not exist", error
    log = Path(details.removeprefix("details: "))
    assert details.startswith("details: ") and log.is_file() and "Traceback" in log.read_text()


@pytest.mark.slow  # uses the module's one migration (about a minute on 2 cores)
def test_sync_uses_dsn_and_its_poll_reads_the_bars_from_sync_runs(
        quiet_migration: subprocess.CompletedProcess[str], store: Path, dsn: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli.progress import _SYNC_PROGRESS, LedgerBars

    with psycopg.connect(dsn) as conn:
        since = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    monkeypatch.setenv("VECTOROPS_DSN", WRONG_DSN)
    assert main.main(["sync", "--chroma-path", str(store), "--collection", "exp-c", "--schema", SCHEMA,
                      "--dsn", dsn]) == 0, capsys.readouterr()
    assert "exp-c" in capsys.readouterr().out
    with LedgerBars(dsn, _SYNC_PROGRESS, (since,), io.StringIO(), unit="records", force_terminal=True) as bars:
        pass
    text = bars.text()
    assert re.search(r"exp-c done .* 0/0 ", text) and len(text.strip().splitlines()) == 1, text
