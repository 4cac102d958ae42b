"""The ``vectorops`` parser: one ``--dsn`` on every command that touches the database, ``-v`` on either side of
the command, ``--help`` without reStructuredText."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

import pytest

from vectorops.cli import help_text
from vectorops.cli.main import build_parser, main
from vectorops.cli.source_args import DSN_HELP, use_dsn

DSN = "postgresql://someone@127.0.0.1:1/elsewhere"

#: each command that touches the database, with the arguments it needs besides --dsn
DATABASE_COMMANDS = {
    "validate": [], "maintain": [], "monitor": [], "backup": [], "restore": ["--backup", "dir"],
    "migrate": [], "sync": [], "cutover": ["--collection", "c"], "compare": [], "db": ["up"],
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_database_command_takes_dsn_from_the_one_shared_definition() -> None:
    parser = build_parser()
    subcommands = _subcommands(parser)
    for command, extra in DATABASE_COMMANDS.items():
        args = parser.parse_args([command, *extra, "--dsn", DSN])
        assert args.dsn == DSN, command
        option = next(a for a in subcommands[command]._actions if "--dsn" in a.option_strings)
        assert option.help, command
    # vectorops' own database everywhere but restore (its target) and compare (the database it measures)
    selects = {c for c in DATABASE_COMMANDS if parser.parse_args([c, *DATABASE_COMMANDS[c]]).dsn_selects_database}
    assert selects == set(DATABASE_COMMANDS) - {"restore", "compare"}
    validate = next(a for a in subcommands["validate"]._actions if "--dsn" in a.option_strings)
    assert validate.help == DSN_HELP


def test_dsn_becomes_the_run_database_only_where_it_names_vectorops_own(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = build_parser()
    monkeypatch.delenv("VECTOROPS_DSN", raising=False)
    use_dsn(parser.parse_args(["restore", "--backup", "dir", "--dsn", DSN]))
    assert "VECTOROPS_DSN" not in os.environ
    use_dsn(parser.parse_args(["maintain", "--dsn", DSN]))
    assert os.environ["VECTOROPS_DSN"] == DSN
    with pytest.raises(ValueError, match="--dsn is empty"):
        use_dsn(parser.parse_args(["monitor", "--dsn", " "]))


def test_backup_takes_dest_and_refuses_an_empty_one_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(["backup", "--dest", "/somewhere"]).dest == "/somewhere"
    assert main(["backup", "--dest", " "]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("vectorops: error: --dest is empty: give the directory backups go to, or leave it out for "
                      "VECTOROPS_BACKUP_DIR"), err
    assert len(err) == 2 and err[1].startswith("details: "), err
    assert os.path.exists(err[1].removeprefix("details: "))


def test_backup_refuses_a_dest_below_a_file_naming_the_flag(tmp_path: Any, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["backup", "--dest", str(afile / "sub")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"vectorops: error: --dest '{afile / 'sub'}' cannot be written: '{afile}' is a file", err


def test_db_down_refuses_dsn(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "down", "--dsn", DSN]) == 2
    assert "--dsn does not go with down" in capsys.readouterr().err


def test_verbose_is_taken_before_or_after_the_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["-v", "maintain"]).verbose is True
    assert parser.parse_args(["maintain", "-v"]).verbose is True
    assert parser.parse_args(["maintain"]).verbose is False


def test_help_carries_no_restructuredtext() -> None:
    parser = build_parser()
    texts = [parser.format_help()] + [sub.format_help() for sub in _subcommands(parser).values()]
    for text in texts:
        assert "``" not in text and not re.search(r":[a-z]+:`", text), text
    assert "The vectorops command" in texts[0]
    sync = _subcommands(parser)["sync"].format_help()
    assert "apply what was written to Chroma" in sync  # a subcommand's --help says what it does


@pytest.mark.parametrize(("rst", "plain"), [
    ("the ``vectorops`` command", "the vectorops command"),
    ("see :data:`vectorops.sync.request.PARAMS`", "see vectorops.sync.request.PARAMS"),
    ("see :func:`~vectorops.db.connect.connect`", "see connect"),
    (":py:class:`the gate <vectorops.quality.gate>`", "the gate"),
    ("plain `one` tick", "plain `one` tick"),
])
def test_plain_strips_roles_and_literals(rst: str, plain: str) -> None:
    assert help_text.plain(rst) == plain


@pytest.mark.parametrize("command", [["sync"], ["cutover", "--collection", "c"]])
def test_a_missing_chroma_path_is_named_before_any_server_starts(command: list[str], tmp_path: Any,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-store"
    assert main([*command, "--chroma-path", str(missing)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"vectorops: error: --chroma-path {str(missing)!r} is not a directory: give the Chroma store "
                      "the collections were migrated from"), err
    assert len(err) == 2 and err[1].startswith("details: "), err


def test_without_dsn_the_vectorops_postgres_connection_is_the_commands_database(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # the one the DAG's tasks write to (vectorops.db.dsn.target_dsn): the CLI must not check another database
    monkeypatch.setenv("VECTOROPS_DSN", "")  # restored after the test: main sets it from the connection
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_POSTGRES", "postgresql://vo:pw@db.example.internal:6543/vectors"
                                                          "?sslmode=require")
    assert main(["db", "dsn"]) == 0
    printed = capsys.readouterr().out.strip()
    assert "host=db.example.internal" in printed and "port=6543" in printed and "dbname=vectors" in printed, printed
    assert "sslmode=require" in printed and "password=***" in printed and "pw" not in printed, printed
    monkeypatch.setenv("VECTOROPS_DSN", "")
    monkeypatch.setenv("AIRFLOW_CONN_VECTOROPS_POSTGRES", "not a connection")
    assert main(["db", "dsn"]) == 2
    assert "AIRFLOW_CONN_VECTOROPS_POSTGRES" in capsys.readouterr().err
