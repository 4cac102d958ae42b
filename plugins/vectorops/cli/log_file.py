"""The command's log file: Airflow's, Great Expectations' and other libraries' output goes there, so the terminal
shows only the command's own lines (``-v`` sends everything to the terminal instead)."""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, TextIO

from vectorops import failpoints

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


#: warnings the terminal shows even from inside a quiet block: an alert channel that failed
_ALWAYS_SHOWN = ("vectorops.alerts",)


class _TerminalWarnings(logging.Handler):
    """vectorops' own warnings on the terminal as one line each (the traceback stays in the file); silent while a
    :func:`quiet` block runs, whose lines belong to the file. ``sys.stderr`` is looked up per record, so a
    redirected stderr (pytest's capture) is honoured."""

    def __init__(self, log: CommandLog) -> None:
        super().__init__(logging.WARNING)
        self._log = log
        self.addFilter(lambda record: record.name.split(".")[0] == "vectorops")

    def emit(self, record: logging.LogRecord) -> None:
        first = (record.getMessage().splitlines() or [""])[0]
        line = f"vectorops: {record.levelname.lower()}: {first}"
        if not self._log.quiet_depth:
            print(line, file=sys.stderr)
        elif record.name.startswith(_ALWAYS_SHOWN) and self._log.terminal_fd is not None:
            os.write(self._log.terminal_fd, f"{line}\n".encode())  # an alert that did not go out is the operator's


class CommandLog:
    """Where one command's log lines go: a file under ``<home>/logs`` (quiet), or the terminal (verbose).

    :param home: the vectorops home (``VECTOROPS_HOME``).
    :param command: the command's name, part of the file name.
    :param verbose: ``-v``: log to the terminal at DEBUG, no file.
    :param to_file: ``False``: log to the terminal (at INFO without ``verbose``), no file, nothing redirected (a
        command that keeps logs of its own, ``vectorops run``).
    """

    def __init__(self, home: Path, command: str, verbose: bool, to_file: bool = True) -> None:
        self.verbose = verbose or not to_file
        self._level = logging.DEBUG if verbose else logging.INFO
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.path: Path | None = None if self.verbose else home / "logs" / f"cli-{command}-{stamp}-{os.getpid()}.log"
        self.quiet_depth = 0
        self.terminal_fd: int | None = None  # the terminal's stderr while a quiet block sends fd 2 to the file
        self._stream: TextIO | None = None
        self._announced = False
        self._saved: tuple[list[logging.Handler], int, int, Any] | None = None
        self._handlers: list[logging.Handler] = []
        self._kept: list[logging.Handler] = []

    def _file(self) -> TextIO:
        if self._stream is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # never closed: handlers and cached structlog loggers a library set up during the command keep it
            self._stream = self.path.open("a", encoding="utf-8", buffering=1)
            self.path.chmod(0o600)  # a library's own lines may hold what only the operator should read
        return self._stream

    def start(self) -> None:
        """Route logging (and Python warnings) for the command; :meth:`stop` puts the previous set-up back."""
        root, ours = logging.getLogger(), logging.getLogger("vectorops")
        self._saved = (root.handlers[:], root.level, ours.level, warnings.showwarning)
        # a plain StreamHandler writes to a terminal stream (basicConfig's, Airflow's): ours replaces it; any other
        # handler (a file, a test's capture) keeps its records
        self._kept = [h for h in root.handlers if type(h) is not logging.StreamHandler]
        if not self.verbose:
            try:
                self._file()
            except OSError as exc:  # no log file is no reason to refuse the command: the terminal gets the lines
                print(f"vectorops: warning: cannot write the log file {self.path} ({exc.strerror or exc}); logging "
                      "to the terminal", file=sys.stderr)
                self.verbose, self.path = True, None
        if self.verbose:
            self._handlers = [logging.StreamHandler(sys.stderr)]
            self._handlers[0].setFormatter(logging.Formatter(_FORMAT))
            root.setLevel(self._level)
        else:
            to_file = logging.StreamHandler(self._file())
            to_file.setFormatter(logging.Formatter(_FORMAT))
            self._handlers = [to_file, _TerminalWarnings(self)]
            root.setLevel(logging.INFO)
            ours.setLevel(logging.DEBUG)  # the file keeps vectorops' debug lines: the tracebacks behind an error
            warnings.showwarning = self._warning_to_file
        self._install()

    def _install(self) -> None:
        # Airflow's import replaces the root handlers with its own (dictConfig); ours are put back after it
        root = logging.getLogger()
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in self._kept + self._handlers:
            root.addHandler(handler)

    def _warning_to_file(self, message: Warning | str, category: type[Warning], filename: str, lineno: int,
                         file: TextIO | None = None, line: str | None = None) -> None:
        self._file().write(warnings.formatwarning(message, category, filename, lineno, line))

    def stop(self) -> None:
        """Put back the logging set-up :meth:`start` found."""
        if self._saved is None:
            return
        handlers, root_level, our_level, showwarning = self._saved
        root = logging.getLogger()
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(root_level)
        logging.getLogger("vectorops").setLevel(our_level)
        warnings.showwarning = showwarning
        self._saved = None
        if self._stream is not None:
            self._stream.flush()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Everything the block writes, to ``sys.stdout``/``sys.stderr`` or to file descriptors 1 and 2 (child
        processes, C libraries), goes to the log file; logging is routed back to it when the block ends."""
        if self.verbose or self.quiet_depth:
            self.quiet_depth += 1
            try:
                yield
            finally:
                self.quiet_depth -= 1
            return
        stream = self._file()
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        self.quiet_depth, self.terminal_fd = 1, saved[1]
        report_fd = failpoints.report_to(saved[1])  # a fail point's hit stays on the terminal: harnesses read it
        try:
            os.dup2(stream.fileno(), 1)
            os.dup2(stream.fileno(), 2)
            with redirect_stdout(stream), redirect_stderr(stream):
                yield
        finally:
            stream.flush()
            failpoints.report_to(report_fd)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            self.quiet_depth, self.terminal_fd = 0, None
            self._install()

    def written(self) -> Path | None:
        """The log file, when anything was written to it."""
        if self.path is None or self._stream is None:
            return None
        self._stream.flush()
        return self.path if self.path.stat().st_size else None

    def discard_if_empty(self) -> None:
        """Close the file, and remove it when nothing was written to it (a quiet block that printed nothing)."""
        if self._stream is None or self.path is None:
            return
        self._stream.close()
        self._stream = None
        if self.path.exists() and not self.path.stat().st_size:
            self.path.unlink()
        elif self.path.exists() and "airflow.sdk" in sys.modules:  # without Airflow every line was ours, redacted
            self._mask_secrets()

    def _mask_secrets(self) -> None:
        """Redact the secrets known by the end of the command (connections read, the environment's) from the file.

        Airflow's and the hooks' own loggers write to the file past any filter of ours (structlog, and the process's
        stderr), e.g. ``HttpHook`` quoting a webhook's answer; this pass hides what they quoted.
        """
        from vectorops.redaction import known_secrets, redact_text

        assert self.path is not None
        text = self.path.read_text(encoding="utf-8", errors="replace")
        masked = redact_text(text, known_secrets())
        if masked != text:
            self.path.write_text(masked, encoding="utf-8")

    def announce(self) -> None:
        """Print ``log: <path>`` on stderr, once, when the file holds anything."""
        if self._announced or (path := self.written()) is None:
            return
        self._announced = True
        print(f"log: {path}", file=sys.stderr)

    def details(self, exc: BaseException) -> None:
        """Keep ``exc``'s traceback in the file and print ``details: <path>`` (the line after an error's)."""
        if self.path is None:
            return
        logging.getLogger("vectorops.cli").debug("the command failed", exc_info=exc)
        if (path := self.written()) is not None:
            self._announced = True
            print(f"details: {path}", file=sys.stderr)


_current: CommandLog | None = None


def begin(home: Path, command: str, verbose: bool, to_file: bool = True) -> CommandLog:
    """Start the log of this command (the one :func:`quiet` uses).

    :param home: the vectorops home.
    :param command: the command's name.
    :param verbose: ``-v`` was given.
    :param to_file: see :class:`CommandLog`.
    """
    global _current
    _current = CommandLog(home, command, verbose, to_file)
    _current.start()
    return _current


def end(log: CommandLog) -> None:
    """The command is over: put logging back as it was.

    :param log: what :func:`begin` returned.
    """
    global _current
    log.stop()
    log.discard_if_empty()
    if _current is log:
        _current = None


@contextmanager
def quiet() -> Iterator[None]:
    """:meth:`CommandLog.quiet` of the running command; nothing changes outside a command (a test calling a command
    function directly)."""
    if _current is None:
        yield
        return
    with _current.quiet():
        yield


def announce() -> None:
    """:meth:`CommandLog.announce` of the running command, if any."""
    if _current is not None:
        _current.announce()


def written() -> Path | None:
    """:meth:`CommandLog.written` of the running command (flushed), or ``None``."""
    return _current.written() if _current is not None else None
