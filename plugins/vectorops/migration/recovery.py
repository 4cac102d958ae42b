"""After a server crash: the chunk ledger is made to agree with an UNLOGGED shadow table the crash emptied.

See :mod:`vectorops.load.unlogged` for why shadow tables load unlogged.
"""

from __future__ import annotations

import logging

import psycopg

from vectorops.load import shadow as shadow_table
from vectorops.load import unlogged
from vectorops.migration import ledger

log = logging.getLogger(__name__)


def ensure_intact(conn: psycopg.Connection, *, collection: str, attempt_id: str, schema: str, shadow: str) -> int:
    """Make the chunk ledger of ``attempt_id`` agree with its shadow table after a server restart.

    Cheap when the server has not restarted since the last check (one row read). Otherwise it locks the run's
    row, counts the shadow, and when rows are missing empties the shadow and marks every chunk pending again.
    Must run inside a transaction, before the transaction touches the shadow table.

    :param conn: the connection, inside a transaction.
    :param collection: the collection's key, for the log.
    :param attempt_id: the attempt.
    :param schema: the shadow table's schema.
    :param shadow: the shadow table.
    :return: the number of chunks that were done and must load again (0 when nothing was lost).
    """
    checked = ledger.shadow_checked(conn, attempt_id)
    if checked is None or checked:
        return 0
    # Every connection dies with a restart, so no chunk transaction that wrote the shadow is still open: the
    # first one here takes the row lock before touching the shadow, and the others wait on it.
    checked = ledger.shadow_checked(conn, attempt_id, lock=True)
    if checked is None or checked:
        return 0
    reset = 0
    if unlogged.is_unlogged(conn, schema, shadow):
        done, loaded = ledger.done_chunks(conn, attempt_id)
        in_table = shadow_table.row_count(conn, schema, shadow)
        if in_table != loaded:
            reset = done
            unlogged.truncate(conn, schema, shadow)
            ledger.reset_loads(conn, attempt_id)
            log.warning("collection %r: the server restarted after a crash and the unlogged shadow table %s.%s "
                        "holds %s of the %s rows its %s loaded chunk(s) wrote; those chunks load again (attempt %s)",
                        collection, schema, shadow, in_table, loaded, done, attempt_id)
    ledger.mark_shadow_checked(conn, attempt_id)
    return reset
