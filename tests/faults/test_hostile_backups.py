"""Hostile backups: edited, crafted or failing ones never make a restore target worse, and backups are private.

Someone who can write the backup directory (but does not hold the signing key) edits the manifest, edits the dump,
or puts in a crafted dump whose CHECK constraint calls a function that runs ``CREATE ROLE ... SUPERUSER``, with the
manifest re-hashed to match. Each is refused by ``vectorops restore --clean``: exit 1, an alert, no role created,
and the target byte-identical (schemas, owners, every table's rows, the objects' oids). With the key compromised
(the test signs the crafted manifest itself), the dump is replayed, but as ``vectorops_restore``, which may not
create roles. A signed backup that fails verification leaves the old data in place despite ``--clean``.
"""

from __future__ import annotations

import json
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.alert_receivers import use_webhook
from tests.support import add_records, chroma_client, forget_collection, forget_schema, migrate_in_process
from vectorops.backup import pg_tools
from vectorops.backup.manifest import DUMP, MANIFEST, file_entry
from vectorops.backup.restore import RESTORE_FAILED
from vectorops.backup.signing import SIGNATURE, ensure_key, key_path, sign_manifest
from vectorops.config import load_settings
from vectorops.db.roles import ETL, RESTORE
from vectorops.naming import table_name_for

SCHEMA, COLLECTION = "hostilebk", "hostile-bk"
PWNED = f"hostilebk_pwned_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def chroma_store(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> Iterator[Path]:
    """One small migrated collection in schema ``hostilebk``; the Chroma store it came from."""
    path = tmp_path_factory.mktemp("chroma-hostilebk")
    col = chroma_client(path).create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}})
    add_records(col, [f"h{i:03d}" for i in range(120)], np.random.default_rng(7).standard_normal((120, 8),
                                                                                                 dtype=np.float32),
                [f"doc {i}" for i in range(120)], [{"i": i} for i in range(120)])
    migrate_in_process(settings, {"chroma_path": str(path), "target_schema": SCHEMA}, "hostilebk-setup")
    yield path
    forget_collection(dsn, COLLECTION, SCHEMA)
    forget_schema(dsn, SCHEMA)


@pytest.fixture(scope="module", autouse=True)
def no_role_left(dsn: str) -> Iterator[None]:
    """Whatever happens, the role a crafted dump tries to create does not outlive the module."""
    yield
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(PWNED)))


@pytest.fixture(scope="module")
def backup_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostilebk-backups") / "backups"


@pytest.fixture
def env(backup_root: Path, chroma_store: Path, monkeypatch: pytest.MonkeyPatch, http_receiver: Any) -> Any:
    monkeypatch.setenv("VECTOROPS_BACKUP_DIR", str(backup_root))
    monkeypatch.setenv("CHROMA_DB_PATH", str(chroma_store))
    use_webhook(monkeypatch, http_receiver.url("/hostilebk"))
    return load_settings()


@pytest.fixture(scope="module")
def good(chroma_store: Path, backup_root: Path, dsn: str) -> Path:
    """A verified backup of the vectors database (with the Chroma archive); its directory."""
    from vectorops.backup import jobs

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VECTOROPS_BACKUP_DIR", str(backup_root))
        patch.setenv("CHROMA_DB_PATH", str(chroma_store))
        outcome = jobs.run_backup(load_settings(), dsn, run_id="hostilebk-good", retention=False)
    assert outcome.report.ok, outcome.report.describe()
    return outcome.taken.directory


@pytest.fixture(scope="module")
def target(good: Path, dsn: str) -> Iterator[str]:
    """A database the good backup was restored into (by the CLI); its DSN."""
    from vectorops.cli import main

    name = f"hostilebk_target_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target_dsn = pg_tools.dsn_for_database(dsn, name)
    assert main.main(["restore", "--backup", str(good), "--dsn", target_dsn]) == 0
    yield target_dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fingerprint(dsn: str) -> dict[str, Any]:
    """Everything a restore could change in a database: schemas and owners, every relation, function and row."""
    with psycopg.connect(dsn) as conn:
        where = r"n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'"
        schemas = conn.execute(sql.SQL("SELECT n.oid, n.nspname, pg_get_userbyid(n.nspowner), n.nspacl::text "
                                       "FROM pg_namespace n WHERE {} ORDER BY 2").format(sql.SQL(where))).fetchall()
        relations = conn.execute(sql.SQL(
            """SELECT c.oid, n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {} ORDER BY 2, 3"""
        ).format(sql.SQL(where))).fetchall()
        functions = conn.execute(sql.SQL(
            """SELECT p.oid, n.nspname, p.proname, pg_get_userbyid(p.proowner), md5(p.prosrc)
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {} ORDER BY 2, 3"""
        ).format(sql.SQL(where))).fetchall()
        rows = {}
        for _, schema, table, kind, _, _ in relations:
            if kind in ("r", "p"):
                rows[f"{schema}.{table}"] = conn.execute(sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
                ).format(sql.Identifier(schema, table))).fetchone()
    return {"schemas": schemas, "relations": relations, "functions": functions, "rows": rows}


def roles(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT rolname FROM pg_roles ORDER BY 1")]


def copy_backup(good: Path, tmp_path: Path, backup_id: str | None = None) -> Path:
    """A copy of the good backup (renamed to ``backup_id``, with the manifest saying so, when given)."""
    copy = tmp_path / (backup_id or good.name)
    shutil.copytree(good, copy)
    if backup_id:
        raw = json.loads((copy / MANIFEST).read_text())
        raw["backup_id"] = backup_id
        (copy / MANIFEST).write_text(json.dumps(raw, indent=2))
    return copy


def recraft_dump(dsn: str, good: Path, into: Path, statements: list[Any]) -> None:
    """Replace the dump of the backup copy ``into`` by the good backup's dump plus what ``statements`` create (run
    as the superuser in a database of its own), and re-hash the manifest (what anyone can do without the key)."""
    evil_db = f"hostilebk_evil_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(evil_db)))
    evil_dsn = pg_tools.dsn_for_database(dsn, evil_db)
    try:
        with psycopg.connect(evil_dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        pg_tools.restore_dump(good / DUMP, evil_dsn)
        with psycopg.connect(evil_dsn, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)
        (into / DUMP).unlink()
        pg_tools.dump_schemas(evil_dsn, json.loads((good / MANIFEST).read_text())["schemas"], into / DUMP)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(evil_db)))
    rehash_dump(into)


def crafted_backup(dsn: str, good: Path, tmp_path: Path, backup_id: str) -> Path:
    """A copy of the good backup as ``backup_id`` whose dump adds a CHECK constraint on the vector table calling a
    function that creates a superuser, with the manifest re-hashed to match (what anyone can do without the key)."""
    into = copy_backup(good, tmp_path, backup_id)
    table = sql.Identifier(SCHEMA, table_name_for(COLLECTION))
    function = sql.Identifier(SCHEMA, "hostile_check")
    # the body only at the end, so that adding the constraint (as the superuser) created nothing; idempotent, so
    # that a restore running it as a superuser goes through with the role created
    body = (f"BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PWNED}') THEN "
            f"EXECUTE 'CREATE ROLE {PWNED} SUPERUSER LOGIN'; END IF; RETURN true; END")
    recraft_dump(dsn, good, into, [
        sql.SQL("CREATE FUNCTION {}(text) RETURNS boolean LANGUAGE plpgsql AS 'BEGIN RETURN true; END'").format(
            function),
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT hostile CHECK ({}(id))").format(table, function),
        sql.SQL("CREATE OR REPLACE FUNCTION {}(text) RETURNS boolean LANGUAGE plpgsql AS {}").format(
            function, sql.Literal(body))])
    return into


def rehash_dump(backup: Path) -> None:
    """Make the manifest list the dump's new sha256 and size (what anyone can do without the key)."""
    raw = json.loads((backup / MANIFEST).read_text())
    entry = file_entry(backup / DUMP)
    raw["files"][DUMP] = {"name": entry.name, "bytes": entry.bytes, "sha256": entry.sha256}
    (backup / MANIFEST).write_text(json.dumps(raw, indent=2))


def restore_refused(backup: Path, target: str, dsn: str, http_receiver: Any, capsys: pytest.CaptureFixture[str],
                    expectation: str) -> str:
    """``vectorops restore --clean`` of ``backup`` into ``target``: exit 1, alerted, no role, target unchanged."""
    from vectorops.cli import main

    before, roles_before = fingerprint(target), roles(dsn)
    assert main.main(["restore", "--backup", str(backup), "--dsn", target, "--clean"]) == 1
    err = capsys.readouterr().err
    assert fingerprint(target) == before
    assert roles(dsn) == roles_before and PWNED not in roles(dsn)
    (line,) = [x for x in err.splitlines() if x.startswith("vectorops: error:")]
    assert "not restored, the target" in line and "is unchanged" in line and expectation in line
    assert "test-password" not in err
    posts = [p.json() for p in http_receiver.posts if p.json()["event"] == RESTORE_FAILED]
    assert len(posts) == 1 and expectation in json.dumps(posts[0]["failed_expectations"])
    with psycopg.connect(dsn) as conn:  # no scratch database is left behind
        scratch = conn.execute(r"SELECT datname FROM pg_database WHERE datname LIKE 'vectorops\_verify\_%'").fetchall()
    assert scratch == []
    return line


def test_the_restored_target_is_owned_by_etl_and_the_restore_role_is_unprivileged(target: str, dsn: str) -> None:
    with psycopg.connect(target) as conn:
        owners = set(conn.execute(
            """SELECT pg_get_userbyid(n.nspowner) FROM pg_namespace n WHERE n.nspname IN (%s, 'vectorops')
               UNION SELECT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname IN (%s, 'vectorops')""", (SCHEMA, SCHEMA)).fetchall())
        staging = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE '%\\_\\_restoring\\_%'").fetchall()
        owned = conn.execute("SELECT count(*) FROM pg_class WHERE relowner = %s::regrole", (RESTORE,)).fetchone()
        table = sql.Identifier(SCHEMA, table_name_for(COLLECTION)).as_string(conn)
        readable = conn.execute("SELECT has_table_privilege('vectorops_reader', %s, 'SELECT')", (table,)).fetchone()
        # vectorops.owned_objects records the restored schema and table under their new oids
        recorded = conn.execute("""SELECT o.kind,
                                          o.object_oid = CASE o.kind WHEN 'schema' THEN n.oid
                                                         ELSE to_regclass(%s)::oid END
                                   FROM vectorops.owned_objects o JOIN pg_namespace n ON n.nspname = o.schema_name
                                   WHERE o.schema_name = %s AND (o.kind = 'schema' OR o.object_name = %s)
                                   ORDER BY 1""", (table, SCHEMA, table_name_for(COLLECTION))).fetchall()
    assert owners == {(ETL,)} and staging == [] and owned == (0,)
    assert readable == (True,) and recorded == [("schema", True), ("table", True)]
    with psycopg.connect(dsn) as conn:
        attributes = conn.execute("""SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication,
                                            rolinherit, rolcanlogin FROM pg_roles WHERE rolname = %s""",
                                  (RESTORE,)).fetchone()
        member_of = conn.execute("SELECT roleid::regrole::text FROM pg_auth_members WHERE member = %s::regrole",
                                 (RESTORE,)).fetchall()
    assert attributes == (False, False, False, False, False, False, True) and member_of == []


def test_an_edited_manifest_is_refused_and_the_target_unchanged(
        env: Any, good: Path, target: str, dsn: str, tmp_path: Path, http_receiver: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    backup = copy_backup(good, tmp_path)
    raw = json.loads((backup / MANIFEST).read_text())
    vector = next(t for t in raw["tables"] if t["schema"] == SCHEMA and t["sha256"])
    vector["rows"] += 1
    (backup / MANIFEST).write_text(json.dumps(raw, indent=2))
    line = restore_refused(backup, target, dsn, http_receiver, capsys, "manifest_signed")
    assert good.name in line and "is not authentic" in line
    # the ledger's hash catches it too (the backup is recorded in vectorops.backups)
    assert "manifest_sha256_matches_ledger" in json.dumps(http_receiver.posts[-1].json()["failed_expectations"])


def test_an_edited_dump_is_refused_and_the_target_unchanged(
        env: Any, good: Path, target: str, dsn: str, tmp_path: Path, http_receiver: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    backup = copy_backup(good, tmp_path)
    data = bytearray((backup / DUMP).read_bytes())
    data[len(data) // 3] ^= 0x55
    (backup / DUMP).write_bytes(bytes(data))
    line = restore_refused(backup, target, dsn, http_receiver, capsys, "file_sha256_matches")
    assert "does not match its manifest" in line


def test_a_crafted_dump_with_a_rehashed_manifest_but_no_key_is_refused(
        env: Any, good: Path, target: str, dsn: str, tmp_path: Path, http_receiver: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    backup = crafted_backup(dsn, good, tmp_path, f"{good.name[:-6]}c0ffee")
    restore_refused(backup, target, dsn, http_receiver, capsys, "manifest_signed")
    (backup / SIGNATURE).unlink()  # no signature at all: refused the same way
    http_receiver.posts.clear()
    line = restore_refused(backup, target, dsn, http_receiver, capsys, "manifest_signed")
    assert "has no signature" in line


def test_a_crafted_dump_signed_with_the_real_key_creates_no_role(
        env: Any, good: Path, target: str, dsn: str, tmp_path: Path, http_receiver: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    backup = crafted_backup(dsn, good, tmp_path, f"{good.name[:-6]}bad0bad")
    sign_manifest(backup / MANIFEST, ensure_key(env.home))  # a compromised key
    line = restore_refused(backup, target, dsn, http_receiver, capsys, "restore_succeeded")
    assert "failed verification in a scratch database" in line and "permission denied to create role" in line


def test_clean_keeps_the_old_data_when_a_signed_backup_fails_verification(
        env: Any, good: Path, target: str, dsn: str, tmp_path: Path, http_receiver: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    backup = copy_backup(good, tmp_path, f"{good.name[:-6]}0dd0dd")
    raw = json.loads((backup / MANIFEST).read_text())
    vector = next(t for t in raw["tables"] if t["schema"] == SCHEMA and t["sha256"])
    vector["sha256"] = "0" * 64
    (backup / MANIFEST).write_text(json.dumps(raw, indent=2))
    sign_manifest(backup / MANIFEST, ensure_key(env.home))
    line = restore_refused(backup, target, dsn, http_receiver, capsys, "checksum_matches")
    assert "failed verification in a scratch database" in line


def test_backups_are_private(env: Any, dsn: str) -> None:
    from vectorops.backup.take import take_backup

    taken = take_backup(env, dsn, run_id="hostilebk-modes")
    files = sorted(p.name for p in taken.directory.iterdir())
    assert files == sorted([DUMP, "roles.sql", "chroma.tar.gz", MANIFEST, SIGNATURE])
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in taken.directory.iterdir()}
    assert modes == dict.fromkeys(files, 0o600)
    for directory in (taken.directory, env.backup.directory):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    key = key_path(env.home)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert str(key) not in json.dumps(json.loads((taken.directory / MANIFEST).read_text()))
