"""vectorops never renames, drops, hands over or grants on what it did not create (issue 18).

The review's reproduction: a customer's schema ``app`` with a table ``docs`` (the target name of collection
``docs``) and another table; three ``vectorops migrate --schema app --collection docs`` with a bootstrap between
them took the schema over, granted it to the reader roles, renamed the customer's table to ``docs__prev`` and
then dropped it. Here each run stops before any work, naming the table; the customer's objects keep their
rows, owners and privileges. A table created under a target name between prepare and promotion stops the
promotion the same way. A collection migrated into a second schema is refused unless the request says what
becomes of the first table (kept and still registered, or dropped).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support import chroma_client, forget_collection, forget_schema, migrate_command, migrate_in_process
from vectorops.config import load_settings
from vectorops.db.bootstrap import bootstrap
from vectorops.db.ownership import NotCreatedByVectorops
from vectorops.errors import TargetRefused
from vectorops.migration import request as migration_request
from vectorops.migration import steps

CUSTOMER = "customer_app"
ROLES = ("vectorops_etl", "vectorops_reader", "vectorops_maint", "vectorops_monitor")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("foreign-objects")
    client = chroma_client(path)
    client.create_collection("docs").add(ids=["a", "b", "c"], embeddings=np.eye(3, 4, dtype=np.float32))
    client.create_collection("notes").add(ids=["x", "y"], embeddings=np.eye(2, 4, dtype=np.float32))
    return path


@pytest.fixture()
def customer(dsn: str) -> Iterator[None]:
    """The customer's schema: ``docs`` (the target name of collection ``docs``), with rows, and ``other``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(CUSTOMER)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(CUSTOMER)))
        conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, s text)").format(
            sql.Identifier(CUSTOMER, "docs")))
        conn.execute(sql.SQL("INSERT INTO {} SELECT g, 'row ' || g FROM generate_series(1, 50) g").format(
            sql.Identifier(CUSTOMER, "docs")))
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(CUSTOMER, "other")))
    yield
    forget_schema(dsn, CUSTOMER)


def _customer_state(dsn: str, schema: str = CUSTOMER) -> dict[str, Any]:
    """Everything about the customer's schema a take-over would change: its tables, their owners, privileges
    and rows, and the schema's owner and privileges."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        schema_row = conn.execute("SELECT nspowner::regrole::text, nspacl::text FROM pg_namespace WHERE nspname = %s",
                                  (schema,)).fetchone()
        tables = conn.execute("""SELECT c.relname, c.relowner::regrole::text, c.relacl::text
                                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                 WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 1""", (schema,)).fetchall()
        rows = {name: conn.execute(sql.SQL("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {} t").format(
            sql.Identifier(schema, name))).fetchone()[0] for name, _owner, _acl in tables}
        reachable = conn.execute(
            """SELECT r, has_schema_privilege(r, %s, 'USAGE') FROM unnest(%s::text[]) r""",
            (schema, list(ROLES))).fetchall()
    return {"schema": schema_row, "tables": tables, "rows": rows, "usage": reachable}


def test_customer_table_survives_three_migrations(settings: Any, dsn: str, store: Path, customer: None) -> None:
    before = _customer_state(dsn)
    assert before["rows"]["docs"] is not None
    for attempt in range(3):
        done = subprocess.run([*migrate_command(store, CUSTOMER), "--collection", "docs"], text=True,
                              capture_output=True, timeout=300)
        assert done.returncode != 0, f"run {attempt + 1} migrated over the customer's table:\n{done.stdout}"
        assert f"table {CUSTOMER}.docs exists and was not created by vectorops" in done.stdout + done.stderr, (
            done.stdout[-3000:] + done.stderr[-3000:])
        bootstrap(settings)  # `vectorops db up` between runs: hands over and grants what vectorops created
        assert _customer_state(dsn) == before, f"run {attempt + 1} changed the customer's schema"
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.migration_runs WHERE target_schema = %s",
                            (CUSTOMER,)).fetchone()[0] == 0, "a refused run still started an attempt"
        assert conn.execute("SELECT count(*) FROM vectorops.owned_objects WHERE schema_name = %s",
                            (CUSTOMER,)).fetchone()[0] == 0


def test_a_schema_vectorops_did_not_create_is_refused(settings: Any, dsn: str, store: Path, customer: None) -> None:
    """Vector tables live in schemas vectorops creates: a migration into the customer's schema, even of a
    collection whose name is free there, stops before any work (its backups, restores and grants would reach
    the customer's tables), on a dry run too."""
    before = _customer_state(dsn)
    for dry_run in (True, False):
        params = {"chroma_path": str(store), "collections": ["notes"], "target_schema": CUSTOMER,
                  "dry_run": dry_run}
        request = migration_request.request_from_params(params, settings)
        with pytest.raises(NotCreatedByVectorops, match=f"schema {CUSTOMER} exists and was not created by vectorops"):
            steps.preflight(settings, request, ["notes"])
    from vectorops.migration import dry_run  # the dry run says so among its warnings, and writes nothing

    warnings = dry_run.dry_run_plan(settings, request, "notes")["warnings"]
    assert f"the run would be refused: schema {CUSTOMER} exists and was not created by vectorops" in " ".join(
        warnings)
    with pytest.raises(NotCreatedByVectorops, match=f"schema {CUSTOMER} exists"):
        migrate_in_process(settings, {"chroma_path": str(store), "collections": ["notes"],
                                      "target_schema": CUSTOMER}, "foreign-notes")
    bootstrap(settings)
    assert _customer_state(dsn) == before
    # the embedded superuser created the customer's schema: nothing of it is granted to the platform's roles
    with psycopg.connect(dsn, autocommit=True) as conn:
        granted = conn.execute(
            """SELECT has_schema_privilege(r, %s, 'USAGE') OR has_table_privilege(r, %s, 'SELECT')
               FROM unnest(%s::text[]) r""", (CUSTOMER, f"{CUSTOMER}.docs", list(ROLES[1:]))).fetchall()
    assert granted == [(False,)] * 3


@pytest.mark.parametrize("blocker", [
    "CREATE TABLE {schema}.documents (id int PRIMARY KEY, v int);"
    " CREATE INDEX docs__prev_pkey ON {schema}.documents (v)",
    "CREATE VIEW {schema}.docs__prev AS SELECT 1 AS one",
    "CREATE SEQUENCE {schema}.docs__prev_hnsw",
])
def test_any_object_under_a_name_promotion_uses_stops_the_run_first(settings: Any, dsn: str, store: Path,
                                                                    blocker: str) -> None:
    """Tables, views, sequences and indexes share a namespace: one of another origin under the live table's,
    its ``__prev``'s or their indexes' names stops the run before any work, naming it and its kind."""
    schema = "foreign_blockers"
    try:
        migrate_in_process(settings, {"chroma_path": str(store), "collections": ["docs"],
                                      "target_schema": schema}, "blockers-1")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(blocker.format(schema=schema))
        request = migration_request.request_from_params(
            {"chroma_path": str(store), "collections": ["docs"], "target_schema": schema}, settings)
        with pytest.raises(NotCreatedByVectorops, match=rf"(index|view|sequence) {schema}\.docs__prev(_pkey|_hnsw)? "
                                                        "exists and was not created by vectorops"):
            steps.preflight(settings, request, ["docs"])
    finally:
        forget_collection(dsn, "docs", schema)


def test_maintenance_leaves_a_foreign_prev_table_alone(settings: Any, dsn: str, store: Path) -> None:
    """An invalid index on a ``<table>__prev`` someone else created is not a leftover of ours to drop."""
    from vectorops.maintenance import catalog

    schema = "foreign_maint"
    try:
        migrate_in_process(settings, {"chroma_path": str(store), "collections": ["notes"],
                                      "target_schema": schema}, "maint-1")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE {} (id int, v int)").format(sql.Identifier(schema, "notes__prev")))
            conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 1), (2, 1)").format(
                sql.Identifier(schema, "notes__prev")))
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY cust_v ON {} (v)").format(
                    sql.Identifier(schema, "notes__prev")))  # leaves an invalid index behind
            tables = catalog.live_tables(conn, None)
            assert not [t for t in tables if t.schema == schema and t.table == "notes__prev"]
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match="neither an invalid leftover of an interrupted build nor an invalid duplicate"):
                conn.execute("SELECT vectorops.drop_invalid_index(%s, 'cust_v')", (schema,))
            assert conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.cust_v",)).fetchone()[0]
    finally:
        forget_collection(dsn, "notes", schema)


def test_a_table_appearing_before_promotion_stops_it(settings: Any, dsn: str, store: Path) -> None:
    """Prepared and loaded while the name was free; the customer creates ``docs`` before finalize: nothing of
    theirs is renamed or dropped, and the run fails without retry."""
    schema = "foreign_late"
    request = migration_request.request_from_params(
        {"chroma_path": str(store), "collections": ["docs"], "target_schema": schema}, settings)
    try:
        plan = steps.prepare(settings, request, "docs", "foreign-late")
        for chunk_no in plan.chunks:
            steps.load(settings, plan, chunk_no)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(schema, "docs")))
            conn.execute(sql.SQL("INSERT INTO {} VALUES (7)").format(sql.Identifier(schema, "docs")))
        with pytest.raises(NotCreatedByVectorops, match=f"table {schema}.docs exists and was not created"):
            steps.finalize(settings, plan)
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute(sql.SQL("SELECT array_agg(id) FROM {}").format(
                sql.Identifier(schema, "docs"))).fetchone()[0] == [7]
            assert conn.execute("SELECT to_regclass(%s)", (f"{schema}.docs__prev",)).fetchone()[0] is None
            assert conn.execute("SELECT status FROM vectorops.migration_runs WHERE attempt_id = %s",
                                (plan.attempt_id,)).fetchone()[0] == "failed"
    finally:
        forget_collection(dsn, "docs", schema)


def test_a_second_schema_is_explicit(settings: Any, dsn: str, store: Path) -> None:
    first, second, third = "foreign_first", "foreign_second", "foreign_third"
    params = {"chroma_path": str(store), "collections": ["docs"]}
    try:
        migrate_in_process(settings, {**params, "target_schema": first}, "schema-1")
        with pytest.raises(TargetRefused, match=f"already migrated to {first}.docs.*previous_table"):
            migrate_in_process(settings, {**params, "target_schema": second}, "schema-2-refused")
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute("SELECT to_regnamespace(%s)", (second,)).fetchone()[0] is None

        # keep: both tables registered (validated and monitored), each under its own key
        migrate_in_process(settings, {**params, "target_schema": second, "previous_table": "keep"}, "schema-2")
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute("""SELECT table_schema, collection_key FROM vectorops.collection_registry
                                   WHERE collection = 'docs' AND table_schema IN (%s, %s) ORDER BY 1""",
                                (first, second)).fetchall()
        assert [r[0] for r in rows] == [first, second] and len({r[1] for r in rows}) == 2

        # the collection lives in both now: migrating it again into either needs no choice
        migrate_in_process(settings, {**params, "target_schema": first}, "schema-1-again")

        # the dry run says what drop would do
        from vectorops.migration import dry_run

        plan = dry_run.dry_run_plan(settings, migration_request.request_from_params(
            {**params, "target_schema": third, "previous_table": "drop", "dry_run": True}, settings), "docs")
        assert f"{first}.docs (in another schema) is dropped once the new table is promoted" in plan["warnings"]
        assert sorted(plan["previous_tables"]) == [f"{first}.docs", f"{second}.docs"]

        # drop: the table in the other schemas goes once the new one is promoted, and its registry row with it
        migrate_in_process(settings, {**params, "target_schema": third, "previous_table": "drop"}, "schema-3")
        with psycopg.connect(dsn, autocommit=True) as conn:
            registered = conn.execute("""SELECT table_schema FROM vectorops.collection_registry
                                         WHERE collection = 'docs' AND source_uri = %s""",
                                      (request_uri(settings, store),)).fetchall()
            assert registered == [(third,)]
            for schema in (first, second):
                assert conn.execute("SELECT to_regclass(%s)", (f"{schema}.docs",)).fetchone()[0] is None
            assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(third, "docs"))).fetchone()[0] == 3
    finally:
        for schema in (first, second, third):
            forget_collection(dsn, "docs", schema)


def request_uri(settings: Any, store: Path) -> str:
    """The source uri the registry records for ``store``."""
    return migration_request.request_from_params({"chroma_path": str(store)}, settings).source.uri


def test_previous_table_is_checked(settings: Any) -> None:
    with pytest.raises(ValueError, match="previous_table='sometimes' is not one of refuse, keep, drop"):
        migration_request.request_from_params({"chroma_path": "/nowhere", "previous_table": "sometimes"}, settings)


def test_backups_and_restores_never_reach_a_schema_vectorops_did_not_create(
        settings: Any, dsn: str, store: Path, customer: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry table in the customer's schema (an older version registered it) is left out of the backup,
    and said so, rather than dumping the customer's tables; a restore --clean never replaces a schema of the
    backup's name that vectorops did not create in the target."""
    from vectorops.backup import jobs, pg_tools
    from vectorops.cli import main

    schema, target = "foreign_bk", f"foreign_restore_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("VECTOROPS_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.delenv("CHROMA_DB_PATH", raising=False)
    try:
        migrate_in_process(settings, {"chroma_path": str(store), "collections": ["notes"], "target_schema": schema},
                           "foreign-bk")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("""INSERT INTO vectorops.collection_registry (collection_key, collection, table_schema,
                                table_name, distance, source_count, loaded_count, quarantined_count, migrated_at)
                            VALUES ('legacy-docs', 'legacy-docs', %s, 'docs', 'l2', 50, 50, 0, now())""",
                         (CUSTOMER,))
        outcome = jobs.run_backup(load_settings(), dsn, run_id="foreign-bk", retention=False)
        manifest = outcome.taken.manifest
        assert schema in manifest.schemas and CUSTOMER not in manifest.schemas
        assert any(f"{CUSTOMER}.docs" in m and "did not create" in m for m in manifest.missing_tables)
        assert not [t for t in manifest.tables if t.schema == CUSTOMER]

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
        target_dsn = pg_tools.dsn_for_database(dsn, target)
        with psycopg.connect(target_dsn, autocommit=True) as conn:  # the target's own schema of that name
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("CREATE TABLE {} (keep int)").format(sql.Identifier(schema, "mine")))
            conn.execute(sql.SQL("INSERT INTO {} VALUES (42)").format(sql.Identifier(schema, "mine")))
        assert main.main(["restore", "--backup", str(outcome.taken.directory), "--dsn", target_dsn, "--clean"]) != 0
        with psycopg.connect(target_dsn, autocommit=True) as conn:
            assert conn.execute(sql.SQL("SELECT keep FROM {}").format(
                sql.Identifier(schema, "mine"))).fetchall() == [(42,)]
            assert conn.execute("SELECT to_regnamespace('vectorops')").fetchone()[0] is None
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM vectorops.collection_registry WHERE collection_key = 'legacy-docs'")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        forget_collection(dsn, "notes", schema)


def test_validation_flags_a_table_someone_recreated_under_a_registry_name(settings: Any, dsn: str,
                                                                          store: Path) -> None:
    """The customer drops vectorops's table and creates their own under its name: validation says so (as the
    monitor role) instead of judging their table, and maintenance sees it as missing."""
    from vectorops.db.dsn import settings_as
    from vectorops.db.roles import MONITOR
    from vectorops.maintenance import catalog
    from vectorops.quality import gate

    schema = "foreign_recreated"
    try:
        key = migrate_in_process(settings, {"chroma_path": str(store), "collections": ["notes"],
                                            "target_schema": schema}, "recreated")[0]["collection"]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, "notes")))
            conn.execute(sql.SQL("CREATE TABLE {} (id text, embedding text)").format(sql.Identifier(schema, "notes")))
        report = gate.validate_live(settings_as(MONITOR), key)
        assert not report.success
        assert [o.expectation for o in report.outcomes if not o.success] == ["table_created_by_vectorops"]
        with psycopg.connect(dsn, autocommit=True) as conn:
            state = [t for t in catalog.live_tables(conn, [key]) if t.schema == schema]
        assert state and not state[0].exists
    finally:
        forget_collection(dsn, "notes", schema)
