"""Live progress on the terminal: a bar per collection (rows, rows/s, ETA) while ``vectorops migrate`` runs, and a
bar over collections for commands that work through them one by one. Only when stderr is a terminal."""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: what a migration's attempts of one CLI run are (the read-only poll; ``vectorops.migration.ledger`` has no read
#: of a run's live counts by owner)
_RUN_PROGRESS = ("SELECT collection, status, source_count, loaded_count + quarantined_count "
                 "FROM vectorops.migration_runs WHERE owner_token = %s AND status <> 'superseded'")

_POLL_S = 0.5


def terminal() -> TextIO | None:
    """A stream onto the terminal stderr is, or ``None`` when stderr is not a terminal.

    A duplicate of the descriptor, so the bar still reaches the terminal while the command's library output is sent
    to its log file (:func:`vectorops.cli.log_file.quiet` redirects descriptors 1 and 2).
    """
    try:
        if not sys.stderr.isatty():
            return None
        return os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8", errors="replace")
    except (AttributeError, OSError, ValueError):  # a replaced stderr without a descriptor is no terminal
        return None


def _progress(stream: TextIO, *, unit: str = "rows", force_terminal: bool | None = None) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class PerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:>7.{0 if unit == 'rows' else 1}f} {unit}/s" if speed else f"{'-':>7} {unit}/s")

    console = Console(file=stream, force_terminal=force_terminal, stderr=True)
    # one line per collection in 80 columns: name and state 24, bar 10, done/total, rate, time left
    return Progress(TextColumn("{task.description:24}"), BarColumn(bar_width=10), MofNCompleteColumn(), PerSecond(),
                    TimeRemainingColumn(), console=console, transient=False,
                    redirect_stdout=False, redirect_stderr=False)  # the command's own lines stay where they go


class MigrationProgress:
    """One bar per collection of a ``vectorops migrate`` run, fed from ``vectorops.migration_runs`` by a thread.

    :param dsn: the vectors database.
    :param owner_token: the CLI's owner token (:func:`vectorops.migration.claims.owner_token_held`): its run's
        attempts carry it.
    :param stream: where the bars are drawn (:func:`terminal`).
    :param force_terminal: draw as on a terminal although ``stream`` is not one (tests).
    """

    def __init__(self, dsn: str, owner_token: str, stream: TextIO, *, force_terminal: bool | None = None) -> None:
        self._dsn = dsn
        self._token = owner_token
        self._progress = _progress(stream, force_terminal=force_terminal)
        self._tasks: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vectorops-progress", daemon=True)

    def __enter__(self) -> MigrationProgress:
        self._progress.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._progress.stop()

    def _run(self) -> None:
        from vectorops.db.connect import connect

        try:
            with connect(self._dsn, autocommit=True, application_name="vectorops-cli-progress") as conn:
                while True:
                    self.show(conn.execute(_RUN_PROGRESS, (self._token,)).fetchall())
                    if self._stop.wait(_POLL_S):
                        self.show(conn.execute(_RUN_PROGRESS, (self._token,)).fetchall())
                        return
        except Exception:  # the bar is a courtesy: the migration and its summary never depend on it
            import logging

            logging.getLogger(__name__).debug("progress polling stopped", exc_info=True)

    def show(self, rows: list[tuple[Any, ...]]) -> None:
        """Move the bars to ``rows`` (collection key, status, rows in the source, rows done).

        :param rows: what :data:`_RUN_PROGRESS` returns.
        """
        from vectorops.chroma.preflight import CollectionRef

        for key, status, total, done in sorted(rows):
            label = CollectionRef.parse(str(key)).label
            if label not in self._tasks:
                self._tasks[label] = self._progress.add_task(label[:15], total=total)
            finished = status in ("promoted", "failed")
            description = f"{label[:15]} {status if status != 'loading' else ''}".rstrip()
            self._progress.update(self._tasks[label], total=total, completed=done or 0, description=description)
            if finished and status == "promoted" and total is not None:
                self._progress.update(self._tasks[label], completed=total)
        self._progress.refresh()

    def text(self) -> str:
        """What the bars show now, as plain text on an 80-column terminal (tests)."""
        from rich.console import Console

        console = Console(width=80, color_system=None, force_terminal=False, record=True, file=io.StringIO())
        console.print(self._progress.get_renderable())
        return console.export_text()


@contextmanager
def collections_bar(what: str, total: int) -> Iterator[Any]:
    """A bar over ``total`` collections (``vectorops validate``); yields ``advance(label)``, a no-op when stderr is
    not a terminal.

    :param what: what is done to each, shown before the bar.
    :param total: how many collections.
    """
    stream = terminal()
    if stream is None:
        yield lambda label: None
        return
    progress = _progress(stream, unit="collections")
    task = progress.add_task(what, total=total)
    progress.start()
    try:
        yield lambda label: progress.update(task, advance=1, description=f"{what} {label[:13]}")
    finally:
        progress.stop()
        stream.close()
