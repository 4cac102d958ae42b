"""Hostile restores, second review: what a signed crafted dump, a privileged restore login, a killed restore,
``--clean`` over other people's objects, and a lost or exposed signing key could do, and what stops each.

1. A signed dump (a compromised key) carrying a trigger on ``vectorops.owned_objects`` / ``backups`` that creates a
   superuser when it runs as one, a view, and a volatile default is refused in the scratch database, naming them;
   the target stays byte-identical and no role appears. The one function a dump may carry under the platform's
   name gets the platform's body back.
2. A restore connection that logs in as the superuser is refused before ``pg_restore`` runs.
3. ``--clean`` refuses while objects outside the replaced schemas depend on them (a view, a column of the vector
   table's row type), naming them.
4. A restore killed (SIGKILL) while its swap waits leaves a staging schema and a lent ``CONNECT``; the next restore
   sweeps both, and never hands a running restore's staging schema to ``vectorops_etl``.
5. ``--clean`` refuses while the target holds schemas vectorops created after the backup, naming them.
6. A signing key readable by others, or in a folder others may write, is refused.
7. A lost key is not replaced while signed backups are recorded (``--new-key`` starts one); a backup from before
   signing is restored only once the operator signs it (``vectorops backup --sign DIR``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.alert_receivers import use_webhook
from tests.faults.test_hostile_backups import copy_backup, fingerprint, recraft_dump, roles
from tests.support import add_records, chroma_client, forget_collection, forget_schema, migrate_in_process
from vectorops.backup import pg_tools
from vectorops.backup.manifest import MANIFEST
from vectorops.backup.restore import RESTORE_FAILED, RESTORE_LOCK
from vectorops.backup.signing import SIGNATURE, ensure_key, key_path, sign_manifest
from vectorops.config import load_settings
from vectorops.db import ownership
from vectorops.db.roles import ETL, RESTORE
from vectorops.naming import table_name_for

SCHEMA, COLLECTION = "hostilers", "hostile-rs"
PWNED = f"hostilers_pwned_{uuid.uuid4().hex[:6]}"
TRIGGER_BODY = ("BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AND NOT EXISTS "
                "(SELECT FROM pg_roles WHERE rolname = '{r}') THEN EXECUTE 'CREATE ROLE {r} SUPERUSER LOGIN'; "
                "END IF; RETURN NEW; END")


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, settings: Any, dsn: str) -> Iterator[Path]:
    """A verified backup holding one small migrated collection in schema ``hostilers``; its directory."""
    from vectorops.backup import jobs

    path = tmp_path_factory.mktemp("chroma-hostilers")
    col = chroma_client(path).create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}})
    add_records(col, [f"r{i:03d}" for i in range(40)],
                np.random.default_rng(11).standard_normal((40, 8), dtype=np.float32),
                [f"doc {i}" for i in range(40)], [{"i": i} for i in range(40)])
    migrate_in_process(settings, {"chroma_path": str(path), "target_schema": SCHEMA}, "hostilers-setup")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VECTOROPS_BACKUP_DIR", str(tmp_path_factory.mktemp("hostilers-backups") / "backups"))
        outcome = jobs.run_backup(load_settings(), dsn, run_id="hostilers-good", retention=False)
    assert outcome.report.ok, outcome.report.describe()
    yield outcome.taken.directory
    forget_collection(dsn, COLLECTION, SCHEMA)
    forget_schema(dsn, SCHEMA)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(PWNED)))


@pytest.fixture
def new_db(dsn: str) -> Iterator[Callable[[], str]]:
    """Makes empty databases on the test server (dropped afterwards); each call returns one's DSN."""
    made: list[str] = []

    def make() -> str:
        name = f"hostilers_t_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return pg_tools.dsn_for_database(dsn, name)

    yield make
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def alerts(monkeypatch: pytest.MonkeyPatch, http_receiver: Any) -> Callable[[str], list[dict[str, Any]]]:
    use_webhook(monkeypatch, http_receiver.url("/hostilers"))
    return lambda event: [p.json() for p in http_receiver.posts if p.json().get("event") == event]


def restored(good: Path, make: Callable[[], str]) -> str:
    """A new database the good backup was restored into; its DSN."""
    from vectorops.cli import main

    target = make()
    assert main.main(["restore", "--backup", str(good), "--dsn", target]) == 0
    return target


def crafted(dsn: str, good: Path, tmp_path: Path, backup_id: str, statements: list[Any]) -> Path:
    """A copy of the good backup whose dump also holds what ``statements`` create, signed with the real key (a
    compromised key)."""
    into = copy_backup(good, tmp_path, backup_id)
    recraft_dump(dsn, good, into, statements)
    sign_manifest(into / MANIFEST, ensure_key(load_settings().home))
    return into


def staging_schemas(target: str) -> list[tuple[str, str]]:
    with psycopg.connect(target) as conn:
        return conn.execute(r"""SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace
                                WHERE nspname LIKE '%\_\_restoring\_%' ORDER BY 1""").fetchall()


# 1 ------------------------------------------------------------------------------------------------------------


def test_a_signed_dump_that_carries_code_is_refused_in_the_scratch_database(
        good: Path, dsn: str, tmp_path: Path, new_db: Callable[[], str], alerts: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli import main

    body = TRIGGER_BODY.format(r=PWNED)
    table = sql.Identifier(SCHEMA, table_name_for(COLLECTION))
    backup = crafted(dsn, good, tmp_path, f"{good.name[:-6]}e11e11", [
        f"CREATE FUNCTION vectorops.rv2_trg() RETURNS trigger LANGUAGE plpgsql AS $f${body}$f$",
        "CREATE TRIGGER rv2 BEFORE INSERT OR UPDATE ON vectorops.owned_objects "
        "FOR EACH ROW EXECUTE FUNCTION vectorops.rv2_trg()",
        "CREATE TRIGGER rv2 BEFORE INSERT OR UPDATE ON vectorops.backups "
        "FOR EACH ROW EXECUTE FUNCTION vectorops.rv2_trg()",
        sql.SQL("CREATE VIEW {} AS SELECT id FROM {}").format(sql.Identifier(SCHEMA, "peek"), table),
        sql.SQL("ALTER TABLE {} ADD COLUMN noise double precision DEFAULT random()").format(table),
    ])
    target = restored(good, new_db)
    before, roles_before = fingerprint(target), roles(dsn)
    assert main.main(["restore", "--backup", str(backup), "--dsn", target, "--clean"]) == 1
    err = capsys.readouterr().err
    assert fingerprint(target) == before and roles(dsn) == roles_before and PWNED not in roles(dsn)
    (line,) = [x for x in err.splitlines() if x.startswith("vectorops: error:")]
    assert "failed verification in a scratch database" in line and "dump_carries_no_code" in line
    (alert,) = alerts(RESTORE_FAILED)
    objects = json.dumps(alert["failed_expectations"])
    for named in ("function vectorops.rv2_trg()", "trigger rv2 on table vectorops.owned_objects",
                  "trigger rv2 on table vectorops.backups", f"view {SCHEMA}.peek", "calls random()",
                  "which is volatile"):
        assert named in objects, named
    assert staging_schemas(target) == []


def test_the_platform_function_a_dump_may_carry_gets_the_platform_body_back(
        good: Path, dsn: str, tmp_path: Path, new_db: Callable[[], str]) -> None:
    from vectorops.cli import main

    body = TRIGGER_BODY.format(r=PWNED)
    backup = crafted(dsn, good, tmp_path, f"{good.name[:-6]}e33e33", [
        "CREATE OR REPLACE FUNCTION vectorops.collection_registry_default_key() RETURNS trigger LANGUAGE plpgsql "
        f"SECURITY DEFINER AS $f${body}$f$"])
    target = new_db()
    assert main.main(["restore", "--backup", str(backup), "--dsn", target]) == 0
    with psycopg.connect(target, autocommit=True) as conn:
        source, definer, owner = conn.execute(
            """SELECT prosrc, prosecdef, pg_get_userbyid(proowner) FROM pg_proc
               WHERE oid = 'vectorops.collection_registry_default_key()'::regprocedure""").fetchone()
        assert "CREATE ROLE" not in source and "coalesce(NEW.collection_key, NEW.collection)" in source
        assert (definer, owner) == (False, ETL)
    assert PWNED not in roles(dsn)


# 2 ------------------------------------------------------------------------------------------------------------


def test_a_restore_connection_that_logs_in_as_the_superuser_is_refused_before_pg_restore(
        good: Path, dsn: str, new_db: Callable[[], str], alerts: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from vectorops.backup.verify import verify_backup
    from vectorops.cli import main

    params = conninfo_to_dict(dsn)
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_RESTORE", f"postgresql://{params['user']}:{params['password']}@"
                                                          f"{params['host']}:{params['port']}/{params['dbname']}")
    target = new_db()
    before = fingerprint(target)
    assert main.main(["restore", "--backup", str(good), "--dsn", target]) == 1
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("vectorops: error:")]
    assert "restore_login_unprivileged" in line and "AIRFLOW_CONN_VECTOROPS_RESTORE" in line
    assert f"logs in as {params['user']}, not {RESTORE}" in line and "is a superuser" in line
    assert str(params["password"]) not in err
    assert fingerprint(target) == before and len(alerts(RESTORE_FAILED)) == 1
    # a backup's verification does not use that connection: it restores on a scratch server of its own, as the
    # unprivileged vectorops_restore it makes there (and checks, with check_restore_login)
    report = verify_backup(dsn, good / MANIFEST)
    assert report.ok and report.port not in (None, int(params["port"])), report.describe()


# 3 ------------------------------------------------------------------------------------------------------------


def test_clean_refuses_while_objects_outside_depend_on_the_replaced_schemas(
        good: Path, new_db: Callable[[], str], capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli import main

    target = restored(good, new_db)
    table = sql.Identifier(SCHEMA, table_name_for(COLLECTION))
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute(sql.SQL("CREATE VIEW app.v AS SELECT id FROM {}").format(table))
        conn.execute(sql.SQL("CREATE TABLE app.keep (k int, snap {})").format(table))
        conn.execute(sql.SQL("INSERT INTO app.keep SELECT 1, x FROM {} x LIMIT 1").format(table))
    before = fingerprint(target)
    assert main.main(["restore", "--backup", str(good), "--dsn", target, "--clean"]) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("vectorops: error:")]
    assert "view app.v" in line and "column snap of table app.keep" in line and "--clean" in line
    assert fingerprint(target) == before
    with psycopg.connect(target, autocommit=True) as conn:  # once they are gone, --clean goes through
        conn.execute("DROP SCHEMA app CASCADE")
    assert main.main(["restore", "--backup", str(good), "--dsn", target, "--clean"]) == 0


# 4 ------------------------------------------------------------------------------------------------------------


def test_a_killed_restore_leaves_nothing_the_next_one_does_not_sweep(
        good: Path, dsn: str, new_db: Callable[[], str], caplog: pytest.LogCaptureFixture) -> None:
    from vectorops.cli import main

    target = restored(good, new_db)
    database = pg_tools.database_name(target)
    with psycopg.connect(target, autocommit=True) as conn:  # so that the restore must lend CONNECT
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
    blocker = psycopg.connect(target)
    blocker.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(SCHEMA, table_name_for(COLLECTION))))
    code = (f"import sys; from vectorops.cli.main import main; sys.exit(main(['restore', '--backup', {str(good)!r}, "
            f"'--dsn', {target!r}, '--clean']))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        with psycopg.connect(dsn, autocommit=True) as admin:
            while time.monotonic() < deadline and proc.poll() is None and not admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    (database,)).fetchone()[0]:
                time.sleep(0.05)
        assert proc.poll() is None, "the restore ended before its swap waited"
        staged = staging_schemas(target)
        assert staged and {owner for _, owner in staged} == {RESTORE}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        blocker.close()
    with psycopg.connect(target, autocommit=True) as conn:  # what the kill left
        assert conn.execute("SELECT has_database_privilege(%s, current_database(), 'CONNECT')",
                            (RESTORE,)).fetchone() == (True,)
    with psycopg.connect(dsn, autocommit=True) as admin:  # its server sessions (and advisory lock) are gone
        assert wait_until(lambda: not admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'vectorops-restore'",
            (database,)).fetchone()[0], 30)
    assert staging_schemas(target) == staged

    # the next restore sweeps the staging schemas and takes back the lent CONNECT, saying so
    with caplog.at_level("INFO", logger="vectorops.backup.restore"):
        assert main.main(["restore", "--backup", str(good), "--dsn", target, "--clean"]) == 0
    assert all(any(f"dropped staging schema {name}" in r.getMessage() for r in caplog.records) for name, _ in staged)
    assert staging_schemas(target) == []
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT has_database_privilege(%s, current_database(), 'CONNECT')",
                            (RESTORE,)).fetchone() == (False,)

    # a restore running meanwhile (its token's lock held) keeps its staging schema, and it stays vectorops_restore's
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA other__restoring_0badf00d AUTHORIZATION vectorops_restore")
        conn.execute("CREATE TABLE other__restoring_0badf00d.t (x int)")
        conn.execute("ALTER TABLE other__restoring_0badf00d.t OWNER TO vectorops_restore")
    with psycopg.connect(target, autocommit=True) as live:
        live.execute("SELECT pg_advisory_lock(%s, %s)", (RESTORE_LOCK, 0x0badf00d))
        assert main.main(["restore", "--backup", str(good), "--dsn", target, "--clean"]) == 0
        assert staging_schemas(target) == [("other__restoring_0badf00d", RESTORE)]
        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class "
                                "WHERE oid = 'other__restoring_0badf00d.t'::regclass").fetchone() == (RESTORE,)
            assert conn.execute("SELECT has_database_privilege(%s, current_database(), 'CONNECT')",
                                (RESTORE,)).fetchone() == (False,)


def wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


# 5 ------------------------------------------------------------------------------------------------------------


def test_clean_refuses_while_the_target_holds_schemas_vectorops_created_after_the_backup(
        good: Path, new_db: Callable[[], str], capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli import main

    target = restored(good, new_db)
    with psycopg.connect(target, autocommit=True) as conn, conn.transaction():
        ownership.ensure_schema(conn, "hostilers_later", "a store service")
    before = fingerprint(target)
    assert main.main(["restore", "--backup", str(good), "--dsn", target, "--clean"]) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("vectorops: error:")]
    assert "hostilers_later" in line and "after backup" in line
    assert fingerprint(target) == before


# 6, 7 ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def key_state(settings: Any) -> Iterator[Path]:
    """The session's signing key; its bytes, mode and folder mode are put back afterwards."""
    key = key_path(settings.home)
    ensure_key(settings.home)
    saved, mode, folder_mode = key.read_bytes(), key.stat().st_mode, key.parent.stat().st_mode
    yield key
    key.parent.chmod(folder_mode)
    key.unlink(missing_ok=True)
    key.write_bytes(saved)
    key.chmod(mode)


@pytest.mark.parametrize("exposed", ["key 0640", "folder 0770"])
def test_a_signing_key_others_may_read_or_replace_is_refused(
        good: Path, dsn: str, key_state: Path, exposed: str) -> None:
    from vectorops.backup.errors import BackupError
    from vectorops.backup.verify import verify_backup

    what, mode = exposed.split()
    (key_state if what == "key" else key_state.parent).chmod(int(mode, 8))
    report = verify_backup(dsn, good / MANIFEST)
    assert not report.ok and report.failures[0]["expectation"] == "manifest_signed"
    problem = report.failures[0]["observed"]["problem"]
    path = key_state if what == "key" else key_state.parent
    assert f"{path} has mode {mode}" in problem
    with pytest.raises(BackupError, match=f"has mode {mode}"):
        ensure_key(load_settings().home)


def test_a_lost_key_is_not_replaced_while_signed_backups_need_it(
        good: Path, dsn: str, key_state: Path, alerts: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.backup import jobs
    from vectorops.backup.errors import BackupError

    monkeypatch.setenv("VECTOROPS_BACKUP_DIR", str(good.parent))
    key_state.unlink()
    with pytest.raises(BackupError, match=r"is missing, and \d+ earlier backup") as refused:
        jobs.run_backup(load_settings(), dsn, run_id="hostilers-lost-key", retention=False)
    assert str(key_state) in str(refused.value) and "--new-key" in str(refused.value)
    assert not key_state.exists()
    (alert,) = alerts(jobs.BACKUP_FAILED)
    assert "is missing" in alert["message"]
    fresh = ensure_key(load_settings().home, signed_backups=[good.name], new_key=True)
    assert key_state.read_bytes() == fresh and key_state.stat().st_mode & 0o077 == 0
    with pytest.raises(BackupError, match="exists; --new-key starts a key only where there is none"):
        ensure_key(load_settings().home, signed_backups=[good.name], new_key=True)


def test_a_backup_from_before_signing_is_restored_once_the_operator_signs_it(
        good: Path, tmp_path: Path, new_db: Callable[[], str], capsys: pytest.CaptureFixture[str]) -> None:
    from vectorops.cli import main

    old = tmp_path / good.name
    shutil.copytree(good, old)
    (old / SIGNATURE).unlink()
    target = new_db()
    assert main.main(["restore", "--backup", str(old), "--dsn", target]) == 1
    assert "has no signature" in capsys.readouterr().err
    assert main.main(["backup", "--sign", str(old)]) == 0
    assert "on your word" in capsys.readouterr().out
    assert main.main(["backup", "--sign", str(old)]) == 1  # once
    assert "signed already" in capsys.readouterr().err
    assert main.main(["restore", "--backup", str(old), "--dsn", target]) == 0
