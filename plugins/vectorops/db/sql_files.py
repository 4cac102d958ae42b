"""SQL files from ``include/sql``, read once per process and composed with safe identifiers."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from psycopg import sql


def sql_dir() -> Path:
    """``include/sql`` of this checkout, or ``VECTOROPS_SQL_DIR``."""
    override = os.environ.get("VECTOROPS_SQL_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "include" / "sql"


@cache
def sql_text(name: str) -> str:
    """Text of ``include/sql/<name>.sql``, e.g. ``sql_text("load/copy_records")``."""
    return (sql_dir() / f"{name}.sql").read_text()


def statement(name: str, **parts: sql.Composable) -> sql.Composed:
    """A statement from ``include/sql/<name>.sql`` with its ``{placeholders}`` composed safely.

    :param name: file path under ``include/sql`` without ``.sql``.
    :param parts: identifiers (``sql.Identifier``) or literals (``sql.Literal``) for the placeholders.
    """
    return sql.SQL(sql_text(name)).format(**parts)
