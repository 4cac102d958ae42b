"""The counts a migration is promoted on, checked against the ledger, and how far behind its source it ends.

At the read point the source held ``staged`` records. Each was loaded, quarantined, or found gone (deleted from
the source after the read point), so ``loaded + quarantined + gone = staged``; per chunk, and with the ids no key
holds (quarantined at staging) and those found gone at staging. ``loaded + quarantined = source`` holds for the
source as of the read point less what was deleted since.
"""

from __future__ import annotations

from typing import Any

from vectorops.chroma.files import changes
from vectorops.chroma.staged import settled_files
from vectorops.errors import IncompleteMigration
from vectorops.load import shadow
from vectorops.migration import ledger
from vectorops.migration.plan import CollectionPlan


def verified_counts(conn: Any, plan: CollectionPlan) -> dict[str, int]:
    """The attempt's counts (``source``, ``loaded``, ``quarantined``, ``gone``, ``reembedded``, ``kept``,
    ``metadata``), once every chunk is done and they add up.

    :param conn: a connection to the plan's database.
    :param plan: the collection's plan.
    :raises IncompleteMigration: naming the collection when a chunk is not loaded or the counts do not add up.
    """
    totals = ledger.chunk_totals(conn, plan.attempt_id)
    unkeyable = ledger.unkeyable_count(conn, plan.attempt_id)
    point = ledger.read_point_of(conn, plan.attempt_id)
    staged = plan.info.count if point.staged is None else point.staged
    collection = plan.collection
    if totals.pending:
        raise IncompleteMigration(f"collection {collection!r}: {totals.pending} chunk(s) of attempt "
                                  f"{plan.attempt_id} are not loaded; rerun the migration to resume")
    in_table = shadow.row_count(conn, plan.schema, plan.shadow)
    loaded, quarantined, planned = totals.loaded, totals.quarantined, totals.planned
    staging_gone = point.gone - totals.gone  # ids no key holds that were deleted before they were quarantined
    if (in_table != loaded or loaded + quarantined + totals.gone != planned
            or planned + unkeyable + staging_gone != staged):
        raise IncompleteMigration(
            f"collection {collection!r}: counts do not add up (source at the read point {staged}, planned "
            f"{planned}, loaded {loaded}, in table {in_table}, quarantined {quarantined}, ids no key holds "
            f"{unkeyable}, deleted after the read point {point.gone}); not promoted")
    return {"source": staged - point.gone, "staged": staged, "loaded": loaded, "quarantined": quarantined + unkeyable,
            "gone": point.gone, "reembedded": totals.reembedded, "kept": totals.kept, "metadata": totals.metadata}


def changes_behind(plan: CollectionPlan, read_point: int | None, gone: int) -> int | None:
    """Source changes the promoted table does not hold: records added, updated or upserted after the read point,
    and staged records deleted since (``gone``); ``None`` when the source has no sequence numbers (a server).

    :param plan: the collection's plan.
    :param read_point: the attempt's read point.
    :param gone: staged records the source no longer holds.
    """
    if read_point is None:
        return None
    files = settled_files(plan.source, plan.collection, plan.info.space)
    return None if files is None else changes.count_changed_since(files, read_point) + gone
