"""Live progress on the terminal: a bar per collection while ``vectorops migrate`` (rows, rows/s, ETA) or
``vectorops sync`` (records applied, records/s) runs, read from the ledger by a thread, and a bar over collections for
commands that work through them one by one. Only when stderr is a terminal."""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

# The read-only polls: (collection key, status, rows to do or NULL, rows done). ``vectorops.migration.ledger`` and
# ``vectorops.sync`` have no read of a run's live counts by owner or start.
#: a migration's attempts of one CLI run
_RUN_PROGRESS = ("SELECT collection, status, source_count, loaded_count + quarantined_count "
                 "FROM vectorops.migration_runs WHERE owner_token = %s AND status <> 'superseded' ORDER BY collection")
#: the syncs started since a moment (of the server's clock), the latest of a collection last
_SYNC_PROGRESS = ("SELECT collection, status, NULL::bigint, added + updated + deleted + quarantined "
                  "FROM vectorops.sync_runs WHERE kind = 'sync' AND started_at >= %s ORDER BY started_at")
#: what a finished run's status is
_DONE = ("promoted", "done")
#: statuses the bar does not spell out (working)
_WORKING = ("loading", "running")

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
            return Text(f"{speed:>7.{1 if unit == 'collections' else 0}f} {unit}/s" if speed else f"{'-':>7} {unit}/s")

    console = Console(file=stream, force_terminal=force_terminal, stderr=True)
    # one line per collection in 80 columns: name and state 24, bar 10, done/total, rate, time left
    return Progress(TextColumn("{task.description:24}"), BarColumn(bar_width=10), MofNCompleteColumn(), PerSecond(),
                    TimeRemainingColumn(), console=console, transient=False,
                    redirect_stdout=False, redirect_stderr=False)  # the command's own lines stay where they go


class LedgerBars:
    """One bar per collection, fed by a thread polling a ledger query twice a second.

    :param dsn: the vectors database.
    :param query: a read-only query returning (collection key, status, rows to do or ``None``, rows done).
    :param params: its parameters.
    :param stream: where the bars are drawn (:func:`terminal`).
    :param unit: what is counted.
    :param force_terminal: draw as on a terminal although ``stream`` is not one (tests).
    """

    def __init__(self, dsn: str, query: str, params: tuple[Any, ...], stream: TextIO, *, unit: str = "rows",
                 force_terminal: bool | None = None) -> None:
        self._dsn = dsn
        self._query = query
        self._params = params
        self._progress = _progress(stream, unit=unit, force_terminal=force_terminal)
        self._tasks: dict[str, Any] = {}
        self._totals: dict[str, int | None] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vectorops-progress", daemon=True)

    def __enter__(self) -> LedgerBars:
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
                    self.show(conn.execute(self._query, self._params).fetchall())
                    if self._stop.wait(_POLL_S):
                        self.show(conn.execute(self._query, self._params).fetchall())
                        return
        except Exception:  # the bar is a courtesy: the migration and its summary never depend on it
            import logging

            logging.getLogger(__name__).debug("progress polling stopped", exc_info=True)

    def show(self, rows: list[tuple[Any, ...]]) -> None:
        """Move the bars to ``rows`` (collection key, status, rows to do or ``None``, rows done); a later row of a
        collection wins.

        :param rows: what the query returns.
        """
        from vectorops.chroma.preflight import CollectionRef

        for key, status, total, done in rows:
            label = CollectionRef.parse(str(key)).label
            if label in self._tasks and total is None and status not in _DONE and self._totals.get(label) is not None:
                self._progress.remove_task(self._tasks.pop(label))  # a new sync round: its total is unknown again
            if label not in self._tasks:
                self._tasks[label] = self._progress.add_task(label[:15], total=total)
            if status in _DONE:  # all done: a migration's quarantined rows, or a sync's unknown total
                total = done if total is None else total
                done = total
            description = f"{label[:15]} {status if status not in _WORKING else ''}".rstrip()
            self._progress.update(self._tasks[label], total=total, completed=done or 0, description=description)
            self._totals[label] = total
        self._progress.refresh()

    def text(self) -> str:
        """What the bars show now, as plain text on an 80-column terminal (tests)."""
        from rich.console import Console

        console = Console(width=80, color_system=None, force_terminal=False, record=True, file=io.StringIO())
        console.print(self._progress.get_renderable())
        return console.export_text()


class MigrationProgress(LedgerBars):
    """The bars of a ``vectorops migrate`` run, from ``vectorops.migration_runs``.

    :param dsn: the vectors database.
    :param owner_token: the CLI's owner token (:func:`vectorops.migration.claims.owner_token_held`): its run's
        attempts carry it.
    :param stream: where the bars are drawn (:func:`terminal`).
    :param force_terminal: draw as on a terminal although ``stream`` is not one (tests).
    """

    def __init__(self, dsn: str, owner_token: str, stream: TextIO, *, force_terminal: bool | None = None) -> None:
        super().__init__(dsn, _RUN_PROGRESS, (owner_token,), stream, force_terminal=force_terminal)


class SyncProgress(LedgerBars):
    """The bars of a ``vectorops sync`` (records applied; the total is known only at the end), from
    ``vectorops.sync_runs``: the syncs started since the bars were (the server's clock).

    :param dsn: the vectors database.
    :param stream: where the bars are drawn (:func:`terminal`).
    :param force_terminal: draw as on a terminal although ``stream`` is not one (tests).
    """

    def __init__(self, dsn: str, stream: TextIO, *, force_terminal: bool | None = None) -> None:
        super().__init__(dsn, _SYNC_PROGRESS, (), stream, unit="records", force_terminal=force_terminal)

    def __enter__(self) -> LedgerBars:
        from vectorops.db.connect import connect

        with connect(self._dsn, autocommit=True) as conn:
            self._params = (conn.execute("SELECT now()").fetchone()[0],)  # type: ignore[index]
        return super().__enter__()


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
