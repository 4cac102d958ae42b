"""Bad params and CLI arguments are refused, naming the setting, before any work starts.

Through the DAG's params path (``request_from_params``, then the steps as the DAG wires them) and through
``vectorops migrate`` as a subprocess: no claim, no run row, no schema, nothing in the source touched, and a
schema name that is SQL never reaches PostgreSQL (a table it names to drop is still there).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support import chroma_client, migrate_command, migrate_in_process, platform_snapshot

VICTIM_SCHEMA = "hostile_params_victim"
DROP_VICTIM = f"x; DROP TABLE {VICTIM_SCHEMA}.y; --"
INJECTION = f'vectors"; DROP SCHEMA {VICTIM_SCHEMA} CASCADE; --'

#: params of the DAG (or the CLI's, in the same shape) → what the error must name
BAD_PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "batch-size-zero": ({"batch_size": 0}, "batch_size=0"),
    "batch-size-text": ({"batch_size": "500"}, "batch_size='500'"),
    "batch-size-huge": ({"batch_size": 10**9}, "batch_size=1000000000"),
    "reembed-unknown": ({"reembed": "sometimes"}, "reembed='sometimes'"),
    "schema-drop-table": ({"target_schema": DROP_VICTIM}, "target_schema"),
    "schema-quoted": ({"target_schema": '"quoted"'}, "target_schema"),
    "schema-injection": ({"target_schema": INJECTION}, "target_schema"),
    "dry-run-text": ({"dry_run": "no"}, "dry_run='no'"),
    "unknown-param": ({"target_shema": "typo"}, "unknown parameter.*'target_shema'"),
}

#: ``vectorops migrate`` arguments after the store → what stderr must name
BAD_ARGUMENTS: dict[str, tuple[list[str], str]] = {
    "batch-size-zero": (["--batch-size", "0"], "batch_size=0"),
    "batch-size-negative": (["--batch-size", "-1"], "batch_size=-1"),
    "batch-size-not-a-number": (["--batch-size", "lots"], "--batch-size: invalid int value"),
    "reembed-unknown": (["--reembed", "sometimes"], "reembed='sometimes'"),
    "schema-drop-table": (["--schema", DROP_VICTIM], "target_schema"),
    "schema-quoted": (["--schema", '"quoted"'], "target_schema"),
    "schema-injection": (["--schema", INJECTION], "target_schema"),
    "port-zero": (["--chroma-port", "0"], "chroma_port=0"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile-params")
    chroma_client(path).create_collection("docs").add(ids=["a", "b"], embeddings=np.eye(2, 3, dtype=np.float32))
    return path


@pytest.fixture(scope="module")
def victim(dsn: str) -> Iterator[None]:
    """A table that the SQL in the schema names asks to drop."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(VICTIM_SCHEMA)))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (v int)").format(sql.Identifier(VICTIM_SCHEMA, "y")))
    yield
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(VICTIM_SCHEMA)))


def _source_state(store: Path) -> tuple[int, int]:
    """The store's ``chroma.sqlite3`` size and modification time: opening it with Chroma's client changes them."""
    stat = (store / "chroma.sqlite3").stat()
    return stat.st_size, stat.st_mtime_ns


def _nothing_happened(dsn: str, before: dict[str, Any], store: Path, source: tuple[int, int]) -> None:
    assert platform_snapshot(dsn) == before
    assert _source_state(store) == source, "the source was opened before the params were checked"
    with psycopg.connect(dsn) as conn:
        victim = sql.Identifier(VICTIM_SCHEMA, "y").as_string(conn)
        assert conn.execute("SELECT to_regclass(%s) IS NOT NULL", (victim,)).fetchone() == (True,)


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_params_fail_before_any_work(case: str, store: Path, settings: Any, dsn: str, victim: None) -> None:
    params, message = BAD_PARAMS[case]
    before, source = platform_snapshot(dsn), _source_state(store)
    with pytest.raises(ValueError, match=message):
        migrate_in_process(settings, {"chroma_path": str(store), **params}, f"hostile-params-{case}")
    _nothing_happened(dsn, before, store, source)


def test_bad_cli_arguments_exit_2_naming_the_setting_before_any_work(store: Path, dsn: str, victim: None) -> None:
    before, source = platform_snapshot(dsn), _source_state(store)
    # all at once: each is a short-lived process that must stop at argument checking; the last value given wins
    running = {case: subprocess.Popen([*migrate_command(store, "vectors"), *arguments], text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for case, (arguments, _) in BAD_ARGUMENTS.items()}
    for case, proc in running.items():
        _, stderr = proc.communicate(timeout=120)
        message = BAD_ARGUMENTS[case][1]
        assert proc.returncode == 2, f"{case}: exit {proc.returncode}\n{stderr}"
        assert "Traceback" not in stderr, f"{case}: {stderr}"
        assert re.search(message, stderr), f"{case}: {stderr}"
    _nothing_happened(dsn, before, store, source)
