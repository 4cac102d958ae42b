"""The command's log file: library output there, the terminal keeps the command's own lines; -v the other way."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from vectorops.cli import log_file


def test_quiet_sends_prints_descriptors_children_and_library_logs_to_the_file(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    log = log_file.begin(tmp_path, "unit", verbose=False)
    try:
        print("the command's own line")
        logging.getLogger("somelib.core").info("library chatter")
        logging.getLogger("vectorops.cli.unit").warning("a warning the operator should see\nits second line")
        with log_file.quiet():
            print("a library's print")
            print("a library's stderr", file=sys.stderr)
            os.write(1, b"written to descriptor 1\n")
            subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('a child process\\n')"], check=True)
            logging.getLogger("vectorops.cli.unit").warning("a task's warning")
            # pytest records warnings itself, so the hook Python calls for a shown warning is called directly
            warnings.showwarning("a library's deprecation", DeprecationWarning, "lib.py", 1)
        log.announce()
        log.announce()
    finally:
        log_file.end(log)
    out, err = capfd.readouterr()
    assert out == "the command's own line\n"
    assert err.splitlines() == ["vectorops: warning: a warning the operator should see", f"log: {log.path}"]
    assert log.path is not None and log.path.parent == tmp_path / "logs" and log.path.name.startswith("cli-unit-")
    text = log.path.read_text()
    for line in ("INFO somelib.core: library chatter", "its second line", "a library's print",
                 "a library's stderr", "written to descriptor 1", "a child process", "a task's warning",
                 "DeprecationWarning: a library's deprecation"):
        assert line in text, line
    assert "the command's own line" not in text


def test_logging_is_put_back_and_an_empty_log_is_not_announced(tmp_path: Path,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = (root.handlers[:], root.level, warnings.showwarning)
    log = log_file.begin(tmp_path, "empty", verbose=False)
    with log_file.quiet():
        pass
    log.announce()
    log_file.end(log)
    assert (root.handlers, root.level, warnings.showwarning) == before
    assert log.written() is None and capfd.readouterr().err == ""
    with log_file.quiet():  # outside a command: nothing is redirected
        print("still on stdout")
    assert capfd.readouterr().out == "still on stdout\n"


def test_verbose_writes_no_file_and_keeps_output_on_the_terminal(tmp_path: Path,
                                                                  capfd: pytest.CaptureFixture[str]) -> None:
    log = log_file.begin(tmp_path, "loud", verbose=True)
    try:
        with log_file.quiet():
            print("a library's print")
            logging.getLogger("somelib").debug("library detail")
    finally:
        log_file.end(log)
    out, err = capfd.readouterr()
    assert log.path is None and not (tmp_path / "logs").exists()
    assert "a library's print" in out and "DEBUG somelib: library detail" in err


def test_an_unwritable_home_logs_to_the_terminal_instead(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "logs").write_text("a file where the logs directory would be")
    log = log_file.begin(tmp_path, "nowhere", verbose=False)
    try:
        with log_file.quiet():
            print("a library's print")
        logging.getLogger("vectorops.cli.unit").info("an info line")
    finally:
        log_file.end(log)
    out, err = capfd.readouterr()
    assert err.startswith(f"vectorops: warning: cannot write the log file {tmp_path / 'logs'}/cli-nowhere-"), err
    assert "a library's print" in out and "INFO vectorops.cli.unit: an info line" in err and log.path is None


def test_a_capture_handler_on_the_root_logger_keeps_its_records(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    log = log_file.begin(tmp_path, "kept", verbose=False)
    try:
        with caplog.at_level("INFO", logger="vectorops.cli.unit"), log_file.quiet():
            logging.getLogger("vectorops.cli.unit").info("a record a test or a log file handler wants")
    finally:
        log_file.end(log)
    assert [r.getMessage() for r in caplog.records] == ["a record a test or a log file handler wants"]
    assert log.path is not None and "a record a test or a log file handler wants" in log.path.read_text()


def test_a_command_whose_quiet_blocks_wrote_nothing_leaves_no_file(tmp_path: Path,
                                                                  capfd: pytest.CaptureFixture[str]) -> None:
    log = log_file.begin(tmp_path, "unit", verbose=False)
    try:
        with log_file.quiet():
            pass
        log.announce()
    finally:
        log_file.end(log)
    assert capfd.readouterr().err == ""  # no path announced
    assert log.path is not None and not log.path.exists()


def test_secrets_a_library_wrote_past_the_masker_are_hidden_in_the_file(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. HttpHook quoting a webhook's error page, written by Airflow's structlog straight to the process's stderr
    import airflow.sdk  # noqa: F401  (Airflow is loaded: its loggers are what the pass is for)

    token = "Webhook-T0k3n-9f8e7d6c5b"
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN_HOOK", f'{{"conn_type": "http", "host": "h", "password": "{token}"}}')
    log = log_file.begin(tmp_path, "unit", verbose=False)
    try:
        with log_file.quiet():
            os.write(2, f"[error ] denied for Bearer {token} [airflow.task.hooks.HttpHook]\n".encode())
    finally:
        log_file.end(log)
    assert log.path is not None
    text = log.path.read_text()
    assert "denied for Bearer ***" in text and token not in text, text
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"


def test_a_failed_alert_channel_is_shown_on_the_terminal_even_inside_quiet(tmp_path: Path,
                                                                         capfd: pytest.CaptureFixture[str]) -> None:
    log = log_file.begin(tmp_path, "unit", verbose=False)
    try:
        with log_file.quiet():
            logging.getLogger("vectorops.alerts.send").warning("vectorops alert channel webhook failed: HTTP 500")
            logging.getLogger("vectorops.cli.unit").warning("a task's warning stays in the file")
    finally:
        log_file.end(log)
    err = capfd.readouterr().err
    assert "vectorops: warning: vectorops alert channel webhook failed: HTTP 500" in err.splitlines(), err
    assert "a task's warning" not in err
