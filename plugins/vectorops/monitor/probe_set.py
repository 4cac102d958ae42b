"""The fixed probe set of a table: query vectors sampled from it with a seed, stored so that runs compare.

The set is reused until the table is migrated again (the registry's ``last_attempt_id`` changes), its dimension,
the seed or the wanted number of probes changes; then it is sampled afresh with
:func:`vectorops.samples.sample_ids`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg

from vectorops import samples
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text
from vectorops.monitor.target import ProbeTarget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeSet:
    """The probes of one table.

    :param record_ids: the id of the row each probe vector was taken from (left out of its own results).
    :param vectors: float32 (probes, dimensions).
    :param attempt_id: the migration attempt they were sampled from.
    :param seed: the sample's seed.
    :param created_at: when they were sampled.
    :param regenerated: sampled in this run, with ``reason``.
    """

    record_ids: list[str]
    vectors: np.ndarray
    attempt_id: str | None
    seed: int
    created_at: datetime | None
    regenerated: bool = False
    reason: str | None = None

    def __len__(self) -> int:
        return len(self.record_ids)


def stored_probe_set(conn: psycopg.Connection, target: ProbeTarget) -> ProbeSet | None:
    """The stored probes of ``target``, ``None`` when there are none.

    :param conn: a connection with pgvector's types registered.
    :param target: the table.
    """
    rows = conn.execute(sql_text("monitor/select_probes"), (target.schema, target.table)).fetchall()
    if not rows:
        return None
    vectors = np.vstack([_as_array(r[1]) for r in rows])
    return ProbeSet([r[0] for r in rows], vectors, rows[0][2], int(rows[0][3]), rows[0][4])


def _as_array(value: object) -> np.ndarray:
    """A stored vector as float32 (pgvector-python loads binary vectors as ``Vector``, text ones as arrays)."""
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


def stale_reason(stored: ProbeSet | None, target: ProbeTarget, size: int, seed: int, row_count: int) -> str | None:
    """Why the stored probe set cannot be reused, or ``None`` when it can.

    :param stored: the stored set.
    :param target: the table now.
    :param size: probes wanted.
    :param seed: seed wanted.
    :param row_count: rows in the table now (a set smaller than ``size`` is complete when the table is as small).
    """
    if stored is None:
        return "no probe set stored yet"
    if stored.attempt_id != target.attempt_id:
        return f"the table was migrated again (attempt {stored.attempt_id} → {target.attempt_id})"
    if stored.vectors.shape[1] != target.dimensions:
        return f"the dimension changed ({stored.vectors.shape[1]} → {target.dimensions})"
    if stored.seed != seed:
        return f"the seed changed ({stored.seed} → {seed})"
    if len(stored) > size or (len(stored) < size and row_count > len(stored)):
        return f"the number of probes changed ({len(stored)} → {size})"
    return None


def ensure_probe_set(conn: psycopg.Connection, target: ProbeTarget, *, size: int, seed: int,
                     row_count: int) -> ProbeSet:
    """Reuse the stored probe set of ``target``, or sample and store a new one (see the module docstring).

    Probe vectors are the stored vectors of a seeded sample of rows; zero vectors are skipped.

    :param conn: a connection with pgvector's types registered, in autocommit mode.
    :param target: the table.
    :param size: probes wanted.
    :param seed: the sample's seed.
    :param row_count: rows in the table now.
    """
    stored = stored_probe_set(conn, target)
    reason = stale_reason(stored, target, size, seed, row_count)
    if reason is None and stored is not None:
        return stored
    # a few more ids than needed, as rows without a usable vector are skipped
    ids = samples.sample_ids(conn, target.schema, target.table, size + max(10, size // 5), seed)
    chosen, vectors = samples.query_sample(conn, target.schema, target.table, ids, size)
    with conn.transaction():
        # two monitors resampling the same table at once take turns (same seed and data: the same probes)
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('vectorops:probes:' || %s, 0))",
                     (target.qualified,))
        conn.execute("DELETE FROM vectorops.search_probes WHERE table_schema = %s AND table_name = %s",
                     (target.schema, target.table))
        with conn.cursor() as cur:
            cur.executemany(
                sql_text("monitor/insert_probe"),
                [(target.schema, target.table, n, record_id, vectors[n], target.attempt_id, seed)
                 for n, record_id in enumerate(chosen)])
        created = one_value(conn.execute("SELECT now()"))
    log.info("table %s: sampled %s probe vectors (seed %s): %s", target.qualified, len(chosen), seed, reason)
    return ProbeSet(chosen, vectors, target.attempt_id, seed, created, regenerated=True, reason=reason)
