"""The Airflow pool and Celery queue of vectorops' heavy work: HNSW index builds and rebuilds (``REINDEX
CONCURRENTLY``, the migration's finalize), the backup verify restore and the recovery drill.

One pool slot by default, so two of them never run at once whichever DAG runs them; ``VECTOROPS_HEAVY_POOL_SLOTS``
sets its size when the platform creates it (:func:`vectorops.airflow.env.migrate_metadata`, or ``vectorops pools``
in a deployment of your own). The search probes are not in it: they run beside a build and the monitor records
that instead of alerting (``search_metrics.during_index_build``).

The same tasks go to the Celery queue :data:`HEAVY_QUEUE`, and everything else (chunk loads among it) to Airflow's
default queue, so that a scaled-out deployment can give heavy work a worker of its own with more memory
(``docs/scaling-out.md``); executors without queues (the local platform's LocalExecutor) ignore it.

DAG files import this module at parse time: the stdlib only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from vectorops.errors import SettingError

#: the pool's name, as the tasks name it and ``vectorops run`` creates it
HEAVY_POOL = "vectorops_heavy"
#: the Celery queue of the same tasks; a worker serving it runs index builds and scratch servers
HEAVY_QUEUE = "heavy"
#: the variable that sets its slots
HEAVY_POOL_SLOTS_ENV = "VECTOROPS_HEAVY_POOL_SLOTS"
DEFAULT_HEAVY_POOL_SLOTS = 1
HEAVY_POOL_DESCRIPTION = ("vectorops: HNSW index builds and rebuilds, backup verify restores and drills "
                          f"(slots: {HEAVY_POOL_SLOTS_ENV})")


def heavy_pool_slots(environ: Mapping[str, str] | None = None) -> int:
    """The slots of :data:`HEAVY_POOL`: ``VECTOROPS_HEAVY_POOL_SLOTS``, default 1.

    :param environ: where to read it; default ``os.environ``.
    :raises SettingError: naming the variable when it is not a whole number of at least 1.
    """
    raw = (os.environ if environ is None else environ).get(HEAVY_POOL_SLOTS_ENV, "").strip()
    if not raw:
        return DEFAULT_HEAVY_POOL_SLOTS
    try:
        slots = int(raw)
    except ValueError as exc:
        raise SettingError(f"{HEAVY_POOL_SLOTS_ENV}={raw!r} is not a whole number of pool slots") from exc
    if slots < 1:
        raise SettingError(f"{HEAVY_POOL_SLOTS_ENV}={slots} must be at least 1 (0 slots would never run an index "
                           "build or a verify restore)")
    return slots
