"""Run a DAG in-process with ``dag.test()``: the CLI's way to use the one code path the scheduler uses."""

from __future__ import annotations

import os
from typing import Any

from vectorops.airflow.env import airflow_environment, migrate_metadata
from vectorops.config import Settings
from vectorops.install_layout import dags_folder


def load_dag(dag_id: str) -> Any:
    """Parse ``<dags folder>/<dag_id>.py`` (:func:`~vectorops.install_layout.dags_folder`) with Airflow's
    DagBag and return the DAG.

    :raises RuntimeError: with the import error when the file does not parse.
    """
    from airflow.dag_processing.dagbag import DagBag

    path = dags_folder() / f"{dag_id}.py"
    bag = DagBag(dag_folder=str(path))
    if bag.import_errors:
        raise RuntimeError(f"DAG file {path} has import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def run_dag(dag_id: str, conf: dict[str, Any], settings: Settings) -> tuple[str, str]:
    """Run ``dag_id`` once with ``conf`` via ``dag.test()``.

    :return: the final run state and its run id.
    """
    env = airflow_environment(settings)
    os.environ.update(env)
    migrate_metadata(env)
    dag = load_dag(dag_id)
    run = dag.test(run_conf=conf)
    return str(run.state), str(run.run_id)
