"""Where the DAGs, the ``.env`` file and the code are, for a checkout and for an installed wheel alike.

A checkout (``make run``, the tests) has ``dags/`` and ``plugins/`` beside ``pyproject.toml``. A wheel installed into
someone's Airflow has no checkout: its DAGs are package data (``vectorops/dags``) and its Vector Health plugin is an
``airflow.plugins`` entry point, so nothing needs copying into Airflow's folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import vectorops

PROJECT_DIR_ENV = "VECTOROPS_PROJECT_DIR"


def checkout_dir() -> Path | None:
    """The checkout this code runs from (``VECTOROPS_PROJECT_DIR`` wins), or ``None`` for an installed wheel."""
    override = os.environ.get(PROJECT_DIR_ENV)
    if override:
        return Path(override).resolve()
    root = Path(vectorops.__file__).resolve().parents[2]
    return root if (root / "dags").is_dir() and (root / "pyproject.toml").is_file() else None


def dags_folder() -> Path:
    """The vectorops DAG files: the checkout's ``dags/``, else the wheel's ``vectorops/dags``.

    A user's Airflow reads them by adding this folder as a DAG bundle (``vectorops dags-folder`` prints it).
    """
    checkout = checkout_dir()
    return checkout / "dags" if checkout else Path(vectorops.__file__).resolve().parent / "dags"


def dotenv_file() -> Path:
    """The ``.env`` of local-only settings: the checkout's, else the current directory's."""
    checkout = checkout_dir()
    return (checkout or Path.cwd()) / ".env"
