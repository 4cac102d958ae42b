"""``vectorops pools`` (the compose file's airflow-init runs it): the pool in a real metadata database, and one
line naming the setting when the database is not Airflow's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from vectorops.airflow.pools import HEAVY_POOL


def _pools(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vectorops.cli", "pools"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_the_pool_is_given_its_slots_and_a_second_run_sets_them_again(airflow_db: dict[str, str]) -> None:
    url = airflow_db["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg://", "postgresql://", 1)
    for slots in ("2", "1"):  # 1 last: as the session had it
        done = _pools({**os.environ, **airflow_db, "VECTOROPS_HEAVY_POOL_SLOTS": slots})
        assert (done.returncode, done.stdout) == (0, f"Airflow pool {HEAVY_POOL}: {slots} slot(s)\n"), done.stderr
        with psycopg.connect(url) as conn:
            found = conn.execute("SELECT slots FROM slot_pool WHERE pool = %s", (HEAVY_POOL,)).fetchall()
        assert found == [(int(slots),)]


def test_a_database_that_is_not_airflows_fails_in_one_line_naming_the_setting(tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'empty.db'}"}
    done = _pools(env)
    assert done.returncode == 1 and done.stdout == "", done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vectorops: error: `airflow pools set` failed"), done.stderr
    assert "check AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in lines[0]
