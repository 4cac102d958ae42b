"""SQL files shipped inside the package (``vectorops/sql``), read once per process and composed with safe
identifiers. They are package data, read with :mod:`importlib.resources`, so a wheel installed anywhere finds them."""

from __future__ import annotations

import os
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from psycopg import sql


def sql_dir() -> Traversable:
    """The package's ``sql`` folder, or ``VECTOROPS_SQL_DIR`` (a checkout's SQL under test)."""
    override = os.environ.get("VECTOROPS_SQL_DIR")
    return Path(override) if override else files("vectorops").joinpath("sql")


@cache
def sql_text(name: str) -> str:
    """Text of ``vectorops/sql/<name>.sql``, e.g. ``sql_text("load/copy_records")``.

    :param name: file path under ``vectorops/sql`` without ``.sql``.
    """
    return sql_dir().joinpath(f"{name}.sql").read_text(encoding="utf-8")


def statement(name: str, **parts: sql.Composable) -> sql.Composed:
    """A statement from ``vectorops/sql/<name>.sql`` with its ``{placeholders}`` composed safely.

    :param name: file path under ``vectorops/sql`` without ``.sql``.
    :param parts: identifiers (``sql.Identifier``) or literals (``sql.Literal``) for the placeholders.
    """
    return sql.SQL(sql_text(name)).format(**parts)
