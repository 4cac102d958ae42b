"""What vectorops created, and the rule that it acts only on that.

Every schema and table vectorops creates is recorded in ``vectorops.owned_objects`` with its oid, in the
transaction that creates it. Renames (promotion), drops, hand-overs to ``vectorops_etl`` and grants touch only
recorded objects whose oid is still the recorded one: a customer's table that happens to carry a target name
stops the run instead (:class:`NotCreatedByVectorops`), and a table someone dropped and re-created under a name
vectorops once used is theirs.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text
from vectorops.errors import TargetRefused

SCHEMA = "schema"
TABLE = "table"


class NotCreatedByVectorops(TargetRefused):
    """A target name is taken by a schema or table that vectorops did not create; nothing was changed (a
    :class:`~vectorops.errors.TargetRefused`, so a ``ValueError`` too)."""


def _table_oid(conn: psycopg.Connection, schema: str, table: str) -> int | None:
    row = conn.execute("SELECT to_regclass(%s)::oid", (sql.Identifier(schema, table).as_string(conn),)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _schema_oid(conn: psycopg.Connection, schema: str) -> int | None:
    row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return None if row is None else int(row[0])


def _recorded(conn: psycopg.Connection, kind: str, schema: str, name: str, oid: int) -> bool:
    if one_value(conn.execute("SELECT to_regclass('vectorops.owned_objects')")) is None:
        return False  # a database vectorops never prepared: nothing in it is vectorops's
    return conn.execute(sql_text("ownership/select_owned_object"), (kind, schema, name, oid)).fetchone() is not None


def _record(conn: psycopg.Connection, kind: str, schema: str, name: str, oid: int, created_by: str) -> None:
    conn.execute(sql_text("ownership/upsert_owned_object"), (kind, schema, name, oid, created_by))


def owns_schema(conn: psycopg.Connection, schema: str) -> bool:
    """Whether ``schema`` exists and vectorops created it."""
    oid = _schema_oid(conn, schema)
    return oid is not None and _recorded(conn, SCHEMA, schema, "", oid)


def owns_table(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists and vectorops created it."""
    oid = _table_oid(conn, schema, table)
    return oid is not None and _recorded(conn, TABLE, schema, table, oid)


def ensure_schema(conn: psycopg.Connection, schema: str, created_by: str) -> bool:
    """Create ``schema`` and record it, unless it exists; also when another session creates it at the same moment.

    A schema that existed before is used as it is (tables vectorops creates in it are still recorded one by
    one), but it is never recorded, renamed, handed over or granted on.

    :param created_by: what created it (an attempt, a store service), for the record.
    :return: whether vectorops created the schema (now or earlier).
    """
    with conn.transaction():  # a savepoint inside a transaction
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops:schema:' || %s, 0))", (schema,))
        oid = _schema_oid(conn, schema)
        if oid is not None:
            return _recorded(conn, SCHEMA, schema, "", oid)
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        except (psycopg.errors.DuplicateSchema, psycopg.errors.UniqueViolation):
            return owns_schema(conn, schema)  # a session without the lock (an older vectorops) made it first
        _record(conn, SCHEMA, schema, "", _schema_oid(conn, schema) or 0, created_by)
        _grant_readers(conn, sql.SQL("SCHEMA {}").format(sql.Identifier(schema)), "USAGE")
        return True


_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view", "f": "foreign table",
          "S": "sequence", "i": "index", "I": "partitioned index", "c": "composite type", "t": "TOAST table"}


def relation_kind(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    """What ``schema.name`` is (``table``, ``view``, ``index`` ...), or ``None`` when nothing has that name.

    Tables, views, sequences, indexes and composite types share one namespace per schema: any of them blocks a
    table or index name.
    """
    row = conn.execute(sql_text("ownership/select_relation_kind"), (schema, name)).fetchone()
    if row is not None:
        return _KINDS.get(row[0], "relation")
    row = conn.execute(sql_text("ownership/select_type_exists"), (schema, name)).fetchone()
    return None if row is None else "type"


def require_absent_or_ours(conn: psycopg.Connection, schema: str, table: str) -> None:
    """Stop before touching ``schema.table`` when something of that name exists that vectorops did not create.

    :raises NotCreatedByVectorops: naming the object and its kind.
    """
    kind = relation_kind(conn, schema, table)
    if kind is not None and not (kind == "table" and owns_table(conn, schema, table)):
        raise not_ours(schema, table, kind)


def require_index_name_free(conn: psycopg.Connection, schema: str, index: str, tables: tuple[str, ...]) -> None:
    """Stop when ``schema.index`` (a name promotion gives one of our indexes) is taken by anything but an index of
    one of ``tables`` that vectorops created.

    :raises NotCreatedByVectorops: naming the object and its kind.
    """
    kind = relation_kind(conn, schema, index)
    if kind is None:
        return
    row = conn.execute(sql_text("ownership/select_index_table"),
                       (sql.Identifier(schema, index).as_string(conn),)).fetchone()
    if row is None or row[0] not in tables or not owns_table(conn, schema, str(row[0])):
        raise not_ours(schema, index, kind)


def require_schema_ours_or_absent(conn: psycopg.Connection, schema: str) -> None:
    """Stop when ``schema`` exists and vectorops did not create it: vector tables live in schemas vectorops
    creates, so that backups, restores, hand-overs and grants never reach anyone else's objects.

    :raises NotCreatedByVectorops: naming the schema.
    """
    if _schema_oid(conn, schema) is not None and not owns_schema(conn, schema):
        raise NotCreatedByVectorops(
            f"schema {schema} exists and was not created by vectorops; vector tables go in a schema vectorops "
            f"creates (another name, e.g. {schema[:50]}_vectors), so that its backups, restores and grants never "
            "reach your tables")


def not_ours(schema: str, name: str, kind: str = "table") -> NotCreatedByVectorops:
    """The error for ``schema.name``, which exists and which vectorops did not create."""
    return NotCreatedByVectorops(f"{kind} {schema}.{name} exists and was not created by vectorops; nothing was "
                                 "changed: migrate into another schema, or rename or drop it yourself")


def record_table(conn: psycopg.Connection, schema: str, table: str, created_by: str) -> None:
    """Record ``schema.table``, just created by vectorops in this transaction, and grant it to the reader and
    maintenance roles (whoever created it: ``vectorops_etl``'s default privileges cover only its own tables)."""
    oid = _table_oid(conn, schema, table)
    if oid is None:
        raise LookupError(f"table {schema}.{table} does not exist: nothing to record")
    _record(conn, TABLE, schema, table, oid, created_by)
    _grant_readers(conn, sql.SQL("TABLE {}").format(sql.Identifier(schema, table)), "SELECT")


READER_ROLES = ("vectorops_reader", "vectorops_maint")
MAINTAIN_VERSION = 170000  # PostgreSQL 17 brought the MAINTAIN privilege


def _grant_readers(conn: psycopg.Connection, target: sql.Composable, privilege: str) -> None:
    """Grant ``privilege`` on ``target`` to the reader roles that exist, and MAINTAIN on a table to
    ``vectorops_maint`` (PostgreSQL 17+); the roles exist once ``vectorops db up`` ran with the right to make them."""
    roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1",
                                        (list(READER_ROLES),))]
    if not roles:
        return
    conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(
        sql.SQL(privilege), target, sql.SQL(", ").join(map(sql.Identifier, roles))))
    if privilege == "SELECT" and "vectorops_maint" in roles and conn.info.server_version >= MAINTAIN_VERSION:
        conn.execute(sql.SQL("GRANT MAINTAIN ON {} TO vectorops_maint").format(target))


def renamed_table(conn: psycopg.Connection, schema: str, old: str, new: str) -> None:
    """Follow a rename of a recorded table (same oid, new name)."""
    conn.execute(sql_text("ownership/delete_owned_table"), (schema, new))
    conn.execute(sql_text("ownership/update_renamed_table"), (new, schema, old))


def forget_table(conn: psycopg.Connection, schema: str, table: str) -> None:
    """Drop the record of ``schema.table`` (after vectorops dropped it)."""
    conn.execute(sql_text("ownership/delete_owned_table"), (schema, table))


def drop_table(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """Drop ``schema.table`` if vectorops created it; a table it did not create is left alone.

    :return: whether a table was dropped.
    :raises NotCreatedByVectorops: when the table exists and vectorops did not create it.
    """
    if _table_oid(conn, schema, table) is None:
        forget_table(conn, schema, table)
        return False
    require_absent_or_ours(conn, schema, table)
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, table)))
    forget_table(conn, schema, table)
    return True


def drop_schema(conn: psycopg.Connection, schema: str) -> bool:
    """Drop ``schema`` if vectorops created it and it is empty (never CASCADE: whatever someone else put in it stays,
    and so does the schema), with its records.

    :return: whether it was dropped.
    """
    if not owns_schema(conn, schema):
        return False
    try:
        with conn.transaction():
            conn.execute(sql.SQL("DROP SCHEMA {} RESTRICT").format(sql.Identifier(schema)))
            conn.execute("DELETE FROM vectorops.owned_objects WHERE schema_name = %s", (schema,))
    except psycopg.errors.DependentObjectsStillExist:
        return False
    return True


def adopt_restored(conn: psycopg.Connection, schemas: list[str]) -> None:
    """After a verified restore: the restored schemas' records point at the restored objects.

    A restore re-creates every object under new oids. What the restored ``vectorops.owned_objects`` lists in
    ``schemas`` is re-pointed at the object now under that name; records of objects the backup does not hold
    are removed.

    :param schemas: the schemas the restore swapped in.
    """
    for name in ("update_restored_schemas", "update_restored_tables", "delete_missing_objects"):
        conn.execute(sql_text(f"ownership/{name}"), (schemas,))
