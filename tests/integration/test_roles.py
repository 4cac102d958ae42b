"""The least-privilege roles of ``vectorops db up``: each does its job and nothing more, on real connections."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.support import add_records, chroma_client, forget_collection, migrate_in_process
from vectorops.db import ownership, runtime
from vectorops.db.bootstrap import bootstrap
from vectorops.db.dsn import role_dsn, settings_as
from vectorops.db.roles import ETL, MAINT, MONITOR, READER, ROLES, local_passwords_path
from vectorops.maintenance import executor
from vectorops.naming import table_name_for

SCHEMA = "roles_vectors"
COLLECTION = "roles-docs"
Denied = psycopg.errors.InsufficientPrivilege


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> Iterator[str]:
    """A collection migrated as ``vectorops_etl``, as the DAG does it; its live table's name."""
    path = tmp_path_factory.mktemp("chroma-roles")
    rng = np.random.default_rng(9)
    collection = chroma_client(path).create_collection(COLLECTION, configuration={"hnsw": {"space": "l2"}})
    add_records(collection, [f"r{i:04d}" for i in range(300)], rng.standard_normal((300, 8), dtype=np.float32),
                [f"doc {i}" for i in range(300)], [{"group": i % 3} for i in range(300)])
    migrate_in_process(settings_as(ETL, settings),
                       {"chroma_path": str(path), "collections": [COLLECTION], "target_schema": SCHEMA}, "roles-setup")
    yield table_name_for(COLLECTION)
    forget_collection(dsn, COLLECTION, SCHEMA)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS roles_elsewhere CASCADE")
        for name in ("index_health", "maintenance_log", "search_probes"):
            conn.execute(sql.SQL("DELETE FROM {} WHERE table_schema = %s").format(sql.Identifier("vectorops", name)),
                         (SCHEMA,))


def _as(settings: Any, role: str) -> psycopg.Connection:
    return psycopg.connect(role_dsn(settings, role), autocommit=True)


def _denied(conn: psycopg.Connection, statement: str | sql.Composable, params: tuple[Any, ...] = ()) -> None:
    with pytest.raises(Denied):
        conn.execute(statement, params or None)


def _live(table: str) -> sql.Composable:
    return sql.Identifier(SCHEMA, table)


def test_db_up_creates_login_roles_with_local_only_passwords(settings: Any, dsn: str) -> None:
    path = local_passwords_path(settings.home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    bootstrap(settings)  # idempotent: a second db up changes nothing and keeps the passwords working
    with psycopg.connect(dsn) as conn:
        attributes = {r[0]: r[1:] for r in conn.execute(
            """SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,
                      rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = ANY(%s)""", (list(ROLES),))}
        member = conn.execute("SELECT pg_has_role('vectorops_monitor', 'vectorops_reader', 'USAGE'), "
                              "pg_has_role('vectorops_reader', 'vectorops_monitor', 'USAGE')").fetchone()
        # no password reaches the server in clear, and not even its verifier stays in the statement statistics
        verifiers = conn.execute("SELECT array_agg(query) FROM pg_stat_statements "
                                 "WHERE query ~ 'PASSWORD ''(SCRAM|md5)'").fetchone()
    assert attributes == {ETL: (True, False, False, False, False, True), MAINT: (True, False, False, True, False, True),
                          MONITOR: (True, False, False, False, False, True),
                          READER: (True, False, False, False, False, True)}
    assert member == (True, False) and verifiers == (None,)
    for role in ROLES:
        with _as(settings, role) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)


def test_etl_owns_what_the_migration_created(table: str, dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        owners = set(conn.execute("""SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c
                                     JOIN pg_namespace n ON n.oid = c.relnamespace
                                     WHERE n.nspname IN (%s, 'vectorops') AND c.relkind IN ('r', 'S', 'i')""",
                                  (SCHEMA,)).fetchall())
        schemas = set(conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN (%s, "
                                   "'vectorops')", (SCHEMA,)).fetchall())
    assert owners == {(ETL,)} and schemas == {(ETL,)}


def test_reader_reads_vector_tables_and_the_registry_and_writes_nothing(table: str, settings: Any) -> None:
    with _as(settings, READER) as conn:
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_live(table))).fetchone() == (300,)
        assert conn.execute("SELECT count(*) FROM vectorops.collection_registry WHERE collection = %s",
                            (COLLECTION,)).fetchone() == (1,)
        for health in ("index_health", "search_metrics", "validation_results", "backups"):
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("vectorops", health)))
        _denied(conn, sql.SQL("INSERT INTO {} (id) VALUES ('x')").format(_live(table)))
        _denied(conn, sql.SQL("DELETE FROM {}").format(_live(table)))
        _denied(conn, "UPDATE vectorops.collection_registry SET loaded_count = 0")
        _denied(conn, "INSERT INTO vectorops.search_metrics (collection, table_schema, table_name, row_count, probes) "
                      "VALUES ('x', 'x', 'x', 0, 0)")
        for private in ("quarantine", "migration_source_ids", "search_probes", "maintenance_log"):
            _denied(conn, sql.SQL("SELECT 1 FROM {}").format(sql.Identifier("vectorops", private)))
        # of the migration ledger, the speed figures only (Vector Health): not its errors, sources or the rest
        conn.execute("SELECT load_seconds, started_at, finished_at FROM vectorops.migration_runs")
        for column in ("error", "source_uri", "collection"):
            _denied(conn, sql.SQL("SELECT {} FROM vectorops.migration_runs").format(sql.Identifier(column)))
        _denied(conn, "SELECT * FROM vectorops.migration_runs")
        _denied(conn, sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(SCHEMA, "reader_table")))
        _denied(conn, sql.SQL("TRUNCATE {}").format(_live(table)))


def test_maint_maintains_reads_and_writes_only_its_ledgers(table: str, settings: Any) -> None:
    notices: list[str] = []
    with _as(settings, MAINT) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(_live(table)))
        conn.execute(sql.SQL("ANALYZE {}").format(_live(table)))
        conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(SCHEMA, f"{table}_hnsw")))
        assert not [n for n in notices if "permission denied" in n or "skipping" in n], notices
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_live(table))).fetchone() == (300,)
        assert conn.execute("SELECT count(*) >= 0 FROM vectorops.quarantine").fetchone() == (True,)
        log_id = conn.execute("""INSERT INTO vectorops.maintenance_log (table_schema, table_name, action, reason,
                                     status) VALUES (%s, %s, 'analyze', 'role test', 'done') RETURNING log_id""",
                              (SCHEMA, table)).fetchone()[0]
        conn.execute("UPDATE vectorops.maintenance_log SET error = 'none' WHERE log_id = %s", (log_id,))
        _denied(conn, "DELETE FROM vectorops.maintenance_log WHERE log_id = %s", (log_id,))
        for statement in ("DELETE FROM {}", "UPDATE {} SET document = 'x'", "INSERT INTO {} (id) VALUES ('m')",
                          "TRUNCATE {}", "DROP TABLE {}", "CREATE INDEX ON {} (document)",
                          "ALTER TABLE {} RENAME TO x"):
            _denied(conn, sql.SQL(statement).format(_live(table)))
        _denied(conn, sql.SQL("DROP INDEX {}").format(sql.Identifier(SCHEMA, f"{table}_hnsw")))
        _denied(conn, "UPDATE vectorops.collection_registry SET loaded_count = 0")
        _denied(conn, "DELETE FROM vectorops.migration_runs")
        # its one way to drop an index: an invalid REINDEX CONCURRENTLY leftover, nothing else
        _denied(conn, "SELECT vectorops.drop_invalid_index(%s, %s)", (SCHEMA, f"{table}_pkey"))


def test_maintenance_runs_as_maint_and_drops_a_leftover_through_the_owner(table: str, settings: Any,
                                                                          dsn: str) -> None:
    leftover = f"{table}_hnsw_ccnew"
    with _as(settings, ETL) as owner, pytest.raises(psycopg.errors.UniqueViolation):
        owner.execute(sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ((metadata->>'group'))").format(
            sql.Identifier(leftover), _live(table)))  # fails half-way: an INVALID index, as a cancelled REINDEX leaves
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("""INSERT INTO vectorops.index_health (table_schema, table_name, rebuild_reason)
                        VALUES (%s, %s, 'role test') ON CONFLICT (table_schema, table_name)
                        DO UPDATE SET rebuild_reason = 'role test'""", (SCHEMA, table))
    results = executor.maintain(settings_as(MAINT, settings), [COLLECTION], run_id="roles-maint")
    assert [(r.action.kind, r.action.index, r.status) for r in results][:2] == [
        ("drop_index", leftover, "done"), ("reindex", f"{table}_hnsw", "done")], [r.error for r in results]
    with psycopg.connect(dsn) as conn:
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (SCHEMA,))}
        users = {r[0] for r in conn.execute("SELECT DISTINCT usename FROM pg_stat_activity "
                                            "WHERE application_name = 'vectorops-maintenance'")}
    assert indexes == {f"{table}_pkey", f"{table}_hnsw"} and users <= {MAINT}


def test_maint_drops_only_invalid_indexes_of_a_replaced_table(table: str, settings: Any) -> None:
    previous = sql.Identifier(SCHEMA, f"{table}__prev")
    with _as(settings, ETL) as owner:
        owner.execute(sql.SQL("CREATE TABLE {} (x int)").format(previous))
        ownership.record_table(owner, SCHEMA, f"{table}__prev", "test: as a promotion leaves it")
        owner.execute(sql.SQL("INSERT INTO {} VALUES (1), (1)").format(previous))
        owner.execute(sql.SQL("CREATE INDEX prev_valid_idx ON {} (x)").format(previous))
        with pytest.raises(psycopg.errors.UniqueViolation):
            owner.execute(sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY prev_broken_idx ON {} (x)").format(previous))
    try:
        with _as(settings, MAINT) as conn:
            assert conn.execute("SELECT vectorops.drop_invalid_index(%s, 'prev_broken_idx')", (SCHEMA,)).fetchone() == (
                True,)
            assert conn.execute("SELECT vectorops.drop_invalid_index(%s, 'no_such_idx')", (SCHEMA,)).fetchone() == (
                False,)
            _denied(conn, "SELECT vectorops.drop_invalid_index(%s, 'prev_valid_idx')", (SCHEMA,))
    finally:
        with _as(settings, ETL) as owner:
            owner.execute(sql.SQL("DROP TABLE {}").format(previous))


def test_monitor_reads_like_the_reader_and_writes_only_its_ledgers(table: str, settings: Any) -> None:
    with _as(settings, MONITOR) as conn:
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_live(table))).fetchone() == (300,)
        conn.execute("""INSERT INTO vectorops.search_metrics (collection, table_schema, table_name, row_count, probes)
                        VALUES (%s, %s, %s, 300, 1)""", (COLLECTION, SCHEMA, table))
        conn.execute("""UPDATE vectorops.collection_registry SET validated_at = now(), validation_success = true
                        WHERE collection = %s""", (COLLECTION,))
        conn.execute("DELETE FROM vectorops.search_probes WHERE table_schema = %s", (SCHEMA,))
        _denied(conn, "UPDATE vectorops.collection_registry SET loaded_count = 0 WHERE collection = %s", (COLLECTION,))
        _denied(conn, "DELETE FROM vectorops.search_metrics")
        _denied(conn, "DELETE FROM vectorops.validation_results")
        _denied(conn, sql.SQL("UPDATE {} SET document = 'x'").format(_live(table)))
        _denied(conn, "INSERT INTO vectorops.maintenance_log (table_schema, table_name, action, reason, status) "
                      "VALUES ('x', 'x', 'analyze', 'x', 'done')")
        _denied(conn, sql.SQL("REINDEX INDEX {}").format(sql.Identifier(SCHEMA, f"{table}_hnsw")))


def test_etl_cannot_touch_other_schemas(table: str, settings: Any, dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA IF NOT EXISTS roles_elsewhere")
        admin.execute("CREATE TABLE IF NOT EXISTS roles_elsewhere.private (x int)")
        admin.execute("CREATE TABLE IF NOT EXISTS public.roles_private (x int)")
    try:
        with _as(settings, ETL) as conn:
            for statement in ("SELECT * FROM roles_elsewhere.private", "INSERT INTO roles_elsewhere.private VALUES (1)",
                              "CREATE TABLE roles_elsewhere.mine (x int)", "DROP TABLE roles_elsewhere.private",
                              "CREATE TABLE public.mine (x int)", "SELECT * FROM public.roles_private",
                              "DROP TABLE public.roles_private", "ALTER SCHEMA roles_elsewhere RENAME TO gone"):
                _denied(conn, statement)
            # and in its own: a new target schema and tables there are allowed
            conn.execute("CREATE SCHEMA IF NOT EXISTS roles_etl_new")
            conn.execute("CREATE TABLE roles_etl_new.t (x int)")
            conn.execute("DROP SCHEMA roles_etl_new CASCADE")
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("DROP TABLE IF EXISTS public.roles_private")


def test_a_backup_is_taken_and_verified_as_maint(table: str, settings: Any, dsn: str, tmp_path: Path) -> None:
    from dataclasses import replace

    from vectorops.backup import jobs

    maint = settings_as(MAINT, settings)
    maint = replace(maint, backup=replace(maint.backup, directory=tmp_path / "backups"), chroma_path=None)
    taken = jobs.take_backup(maint, runtime.dsn(maint), run_id="roles-backup")
    try:
        report = jobs.verify_and_record(runtime.dsn(maint), taken.backup_id)
        assert report.ok, report.describe()  # pg_dump read everything; the scratch database had the extension
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM vectorops.backups WHERE backup_id = %s", (taken.backup_id,))


def test_a_role_connection_comes_from_a_secrets_backend(settings: Any, tmp_path: Path) -> None:
    """Production: no AIRFLOW_CONN_* variable, the connection is in a secrets backend (here Airflow's file one)."""
    stored = f"postgresql://{READER}:from-the-backend@db.internal:5432/vectorops?sslmode=require"
    backend = tmp_path / "connections.json"
    backend.write_text(json.dumps({READER: stored}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update(AIRFLOW__SECRETS__BACKEND="airflow.secrets.local_filesystem.LocalFilesystemBackend",
               AIRFLOW__SECRETS__BACKEND_KWARGS=json.dumps({"connections_file_path": str(backend)}))
    probe = ("import airflow.sdk; from vectorops.db.dsn import configured_dsn; "
             "print(configured_dsn('vectorops_reader')); print(configured_dsn('vectorops_etl'))")
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120,
                            check=True)
    reader, etl = result.stdout.split("\n")[-3:-1]
    assert conninfo_to_dict(reader) == {"host": "db.internal", "port": "5432", "user": "vectorops_reader",
                                        "password": "from-the-backend", "dbname": "vectorops", "sslmode": "require"}
    assert etl == "None"
