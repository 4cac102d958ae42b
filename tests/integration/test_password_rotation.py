"""Passwords never reach ``pg_stat_statements`` (which ``vectorops_maint`` reads through ``pg_read_all_stats``), and
``vectorops db rotate-password`` sends only a SCRAM verifier and keeps the local password file in step."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from vectorops.cli import main
from vectorops.db.dsn import role_dsn
from vectorops.db.password_rotation import read_new_password
from vectorops.db.roles import MAINT, READER, read_local_passwords


def _statements_as_maint(settings: Any, needle: str) -> list[str]:
    """What ``vectorops_maint``, logged in with its local password, finds in ``pg_stat_statements``."""
    with psycopg.connect(role_dsn(settings, MAINT), autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (MAINT,)
        return [r[0] for r in conn.execute("SELECT query FROM pg_stat_statements WHERE strpos(query, %s) > 0",
                                           (needle,))]


def _server_log(settings: Any) -> str:
    return (settings.pgdata / "server.log").read_text(errors="replace")


def test_a_superusers_plain_alter_role_password_is_not_tracked(settings: Any, dsn: str) -> None:
    role, secret = f"plain_{uuid.uuid4().hex[:8]}", f"plain-secret-{uuid.uuid4().hex}"
    marker = f"tracked-{uuid.uuid4().hex}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SHOW pg_stat_statements.track_utility").fetchone() == ("off",)
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        try:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(secret)))
            # the scan finds what a tracked utility statement leaves (the server's default, on): it can fail
            conn.execute("SET pg_stat_statements.track_utility = on")
            conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(role), sql.Literal(marker)))
            conn.execute("RESET pg_stat_statements.track_utility")
        finally:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert _statements_as_maint(settings, marker)
    assert _statements_as_maint(settings, secret) == []
    assert _statements_as_maint(settings, "PASSWORD") == []


def test_rotate_password_sends_only_a_verifier_and_keeps_the_local_password(
        settings: Any, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    old = read_local_passwords(settings.home)[READER]
    new = f"rotated-{uuid.uuid4().hex}"
    password_file = tmp_path / "password"
    password_file.write_text(new + "\n")
    # the command's session logs every statement it sends, so the server log shows what reached the server
    monkeypatch.setenv("VECTOROPS_DSN", f"{dsn}?options={quote('-c log_statement=all')}")
    try:
        assert main.main(["db", "rotate-password", READER, "--password-file", str(password_file)]) == 0
        assert f"the password of {READER} was changed" in capsys.readouterr().out
        with psycopg.connect(make_conninfo(dsn, user=READER, password=new)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (READER,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(make_conninfo(dsn, user=READER, password=old)).close()
        assert read_local_passwords(settings.home)[READER] == new  # the local DSNs log in with it
        with psycopg.connect(role_dsn(settings, READER)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (READER,)
        log = _server_log(settings)
        sent = [line for line in log.splitlines() if "statement: ALTER ROLE" in line and READER in line]
        assert sent and all("PASSWORD 'SCRAM-SHA-256$4096:" in line for line in sent), sent
        assert new not in log
        assert _statements_as_maint(settings, new) == [] and _statements_as_maint(settings, "SCRAM-SHA-256") == []
    finally:
        password_file.write_text(old)
        assert main.main(["db", "rotate-password", READER, "--password-file", str(password_file)]) == 0
    assert read_local_passwords(settings.home)[READER] == old


@pytest.mark.parametrize("argv", [["db", "rotate-password", "postgres"], ["db", "rotate-password", "vectorops"],
                                  ["db", "rotate-password"], ["db", "up", READER]])
def test_rotate_password_refuses_other_roles_in_one_line(settings: Any, argv: list[str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("never-used")
    assert main.main([*argv, "--password-file", str(password_file)]) == 2
    err, details = capsys.readouterr().err.strip().splitlines()  # one line naming the cause, then the log
    assert err.startswith("vectorops: error: "), err
    assert details.startswith("details: ") and Path(details.removeprefix("details: ")).is_file(), details
    assert (argv[2] if len(argv) > 2 and argv[1] == "rotate-password" else "ROLE") in err


def test_the_new_password_comes_from_a_pipe_or_twice_from_the_prompt(tmp_path: Path) -> None:
    class Pipe(io.StringIO):
        def isatty(self) -> bool:
            return False

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert read_new_password(READER, None, stdin=Pipe("from a pipe\n")) == "from a pipe"
    answers = iter(["typed", "typed"])
    assert read_new_password(READER, None, stdin=Terminal(), ask=lambda prompt: next(answers)) == "typed"
    answers = iter(["typed", "mistyped"])
    with pytest.raises(ValueError, match=f"the two passwords entered for {READER} differ"):
        read_new_password(READER, None, stdin=Terminal(), ask=lambda prompt: next(answers))
    with pytest.raises(ValueError, match="is empty"):
        read_new_password(READER, None, stdin=Pipe("\n"))
    with pytest.raises(ValueError, match=r"--password-file .*missing: cannot read it"):
        read_new_password(READER, str(tmp_path / "missing"))


def test_careless_input_is_refused_in_one_line(tmp_path: Path) -> None:
    """A multi-line pipe is not cut to its first line, an empty --password-file (an unset variable) does not fall
    back to standard input, and a closed standard input asks for --password-file."""
    class Pipe(io.StringIO):
        def isatty(self) -> bool:
            return False

    with pytest.raises(ValueError, match="holds a line break"):
        read_new_password(READER, None, stdin=Pipe("first\nsecond\n"))
    with pytest.raises(ValueError, match="holds a line break"):
        (tmp_path / "two-lines").write_text("first\r\nsecond")
        read_new_password(READER, str(tmp_path / "two-lines"))
    with pytest.raises(ValueError, match="--password-file : cannot read it"):
        read_new_password(READER, "", stdin=Pipe("from a pipe\n"))
    import sys

    saved, sys.stdin = sys.stdin, None  # type: ignore[assignment]
    try:
        with pytest.raises(ValueError, match=r"no standard input .* use --password-file"):
            read_new_password(READER, None)
    finally:
        sys.stdin = saved


def test_concurrent_rotations_lose_nothing_and_restore_rotates(settings: Any, dsn: str) -> None:
    """Two rotations at once (and `db up` beside them) are serialised: the local file ends with both new
    passwords, each logs in, and the next bootstrap does not set an old one back. vectorops_restore rotates too."""
    import threading

    from vectorops.db.bootstrap import bootstrap
    from vectorops.db.password_rotation import rotate_password
    from vectorops.db.roles import MONITOR, RESTORE

    new = {role: f"concurrent-{role}-{uuid.uuid4().hex}" for role in (READER, MONITOR, RESTORE)}
    errors: list[BaseException] = []

    def rotate(role: str) -> None:
        try:
            rotate_password(dsn, settings.home, role, new[role])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=rotate, args=(role,)) for role in new]
    threads.append(threading.Thread(target=bootstrap, args=(settings,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    bootstrap(settings)
    local = read_local_passwords(settings.home)
    for role, password in new.items():
        assert local[role] == password, f"{role}'s rotation was lost from the local file"
        with psycopg.connect(make_conninfo(dsn, user=role, password=password, dbname="vectorops")) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)


def test_a_connection_error_that_is_no_login_is_not_called_a_refused_login(dsn: str) -> None:
    """An error of a logged-in session whose text quotes a login failure (a hostile table name) is what it is."""
    from vectorops.db.connect import login_refused

    name = 'role "x" does not exist'
    with psycopg.connect(dsn, autocommit=True) as holder, psycopg.connect(dsn, autocommit=True) as other:
        holder.execute(sql.SQL("CREATE TABLE {} (n int)").format(sql.Identifier("public", name)))
        try:
            holder.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier("public", name)))
            holder.execute("BEGIN")
            holder.execute(sql.SQL("SELECT * FROM {} FOR UPDATE").format(sql.Identifier("public", name)))
            with pytest.raises(psycopg.errors.LockNotAvailable) as caught:
                other.execute(sql.SQL("SELECT * FROM {} FOR UPDATE NOWAIT").format(sql.Identifier("public", name)))
            assert login_refused(caught.value) is None
            holder.execute("ROLLBACK")
        finally:
            holder.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("public", name)))


def test_a_missing_database_is_said_once_and_not_as_a_lost_connection(
        dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VECTOROPS_DSN", make_conninfo(dsn, dbname="no_such_database"))
    assert main.main(["validate"]) == 1
    err = capsys.readouterr().err
    assert 'database "no_such_database" does not exist' in err and "lost the connection" not in err
    assert "resumes" not in err
