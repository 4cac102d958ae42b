"""Lineage never fails a migration whose table is promoted: a malformed OpenLineage setting is a warning."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
from airflow.sdk import Asset
from vectorops.airflow import lineage
from vectorops.config import load_settings
settings = load_settings()
lineage.emit_migration_lineage(settings, lineage.TargetDatabase("localhost", 5432, "db"),
                               Asset(name="chroma.t.d.n", uri="chroma+file://localhost/s/t/d/n"), "s.t", 1)
print("returned")
"""


@pytest.mark.parametrize(("name", "value"), [
    ("AIRFLOW__OPENLINEAGE__TRANSPORT", '{"type": "file", "log_file_path": '),
    ("AIRFLOW__OPENLINEAGE__TRANSPORT", '["console"]'),
    ("AIRFLOW__OPENLINEAGE__DISABLED", "maybe"),
])
def test_a_malformed_openlineage_setting_is_a_warning_not_a_failure(name: str, value: str) -> None:
    env = {**os.environ, name: value}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "returned", done.stdout
    assert "OpenLineage: the lineage of s.t is not sent" in done.stdout, done.stdout + done.stderr[-2000:]
