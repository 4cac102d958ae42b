"""One line per sync or cutover outcome, as ``vectorops sync`` prints it and the ``chroma_sync`` DAG logs it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vectorops.sync.cutover import CutoverResult
    from vectorops.sync.run import SyncFailure, SyncResult


def outcome_line(outcome: SyncResult | SyncFailure) -> str:
    """What one sync did: its counts, read points, lag and parity; or why the collection was not synced.

    :param outcome: a :class:`~vectorops.sync.run.SyncResult` or :class:`~vectorops.sync.run.SyncFailure`.
    """
    from vectorops.sync.run import SyncFailure

    if isinstance(outcome, SyncFailure):
        return f"{outcome.collection}: NOT SYNCED: {outcome.error}"
    parity = "in parity" if outcome.in_parity else "NOT in parity"
    return (f"{outcome.collection} → {outcome.table}: added {outcome.added}, updated {outcome.updated}, deleted "
            f"{outcome.deleted}, quarantined {outcome.quarantined}; read point {outcome.from_point} → "
            f"{outcome.read_point} ({outcome.source_count} records); lag {outcome.lag_records} record(s), "
            f"{outcome.lag_seconds:.1f}s; {parity}; {outcome.seconds:.2f}s")


def cutover_line(result: CutoverResult) -> str:
    """What one cutover did: its read point, the final sync's counts, the parity it passed and the window.

    :param result: the verified cutover.
    """
    final = result.sync
    return (f"{result.collection} → {result.table}: cut over at read point {result.read_point}; final sync added "
            f"{final.added}, updated {final.updated}, deleted {final.deleted}, quarantined {final.quarantined}; "
            f"parity passed on {result.rows} rows (sha256 {result.content_sha256[:16]}…); window "
            f"{result.window_seconds:.2f}s")
