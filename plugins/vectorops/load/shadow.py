"""Shadow tables: the target schema, the attempt's UNLOGGED table that a load writes, and its primary key."""

from __future__ import annotations

import psycopg
from psycopg import sql

from vectorops.db import ownership
from vectorops.db.sql_files import statement


def vector_type(dimensions: int | None) -> sql.Composable:
    """``vector(d)``, or plain ``vector`` when the dimension is not known yet (an empty collection).

    :param dimensions: the vectors' length, or ``None``.
    """
    if dimensions is None:
        return sql.SQL("vector")
    return sql.SQL("vector({})").format(sql.Literal(int(dimensions)))


def create_schema(conn: psycopg.Connection, schema: str, created_by: str = "vectorops") -> bool:
    """Create ``schema`` and record it as vectorops's, unless it exists (see :func:`ownership.ensure_schema`).

    Call it outside a long transaction (in autocommit it commits at once): an uncommitted new schema makes every
    other session creating it wait until that transaction ends.

    :param conn: the connection, in autocommit mode.
    :param schema: the schema to create.
    :param created_by: what the ownership record names as its creator.
    :return: whether vectorops created the schema.
    """
    return ownership.ensure_schema(conn, schema, created_by)


def create_shadow(conn: psycopg.Connection, schema: str, shadow: str, dimensions: int | None) -> None:
    """Create the attempt's shadow table in ``schema`` and record it, unless this attempt already made it.

    :param conn: the connection, in the caller's transaction.
    :param schema: the target schema.
    :param shadow: the shadow table's name (``<table>__shadow_<attempt>``).
    :param dimensions: the table's vector length, or ``None`` when unknown.
    :raises ownership.NotCreatedByVectorops: when a table vectorops did not create has the shadow's name.
    """
    create_schema(conn, schema)
    ownership.require_absent_or_ours(conn, schema, shadow)
    if ownership.owns_table(conn, schema, shadow):
        return  # a resumed attempt's
    # no IF NOT EXISTS: a table someone creates under this name meanwhile fails the create, and is never recorded
    conn.execute(statement("load/create_shadow_table", table=sql.Identifier(schema, shadow),
                           vector_type=vector_type(dimensions)))
    ownership.record_table(conn, schema, shadow, f"attempt {shadow.rsplit('__shadow_', 1)[-1]}")


def add_primary_key(conn: psycopg.Connection, schema: str, shadow: str) -> None:
    """Add the shadow table's primary key on ``id`` (after the load), unless it has one.

    :param conn: the connection.
    :param schema: the target schema.
    :param shadow: the shadow table.
    """
    row = conn.execute("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'",
                       (sql.Identifier(schema, shadow).as_string(conn),)).fetchone()
    if row is None:
        conn.execute(statement("load/add_primary_key", table=sql.Identifier(schema, shadow),
                               constraint=sql.Identifier(f"{shadow}_pkey")))


def row_count(conn: psycopg.Connection, schema: str, shadow: str) -> int:
    """The rows ``schema.shadow`` holds.

    :param conn: the connection.
    :param schema: the table's schema.
    :param shadow: the table.
    """
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, shadow))).fetchone()
    assert row is not None
    return int(row[0])
