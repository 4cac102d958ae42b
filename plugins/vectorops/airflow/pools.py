"""The Airflow pool of vectorops' heavy work: HNSW index builds and rebuilds, ``REINDEX CONCURRENTLY`` and the
backup verify restore. One slot by default, so two of them never run at once and none runs beside another's
search probes; ``VECTOROPS_HEAVY_POOL_SLOTS`` sets its size when the platform creates it.

DAG files import this module at parse time: constants only.
"""

from __future__ import annotations

#: the pool's name, as the tasks name it and ``vectorops run`` creates it
HEAVY_POOL = "vectorops_heavy"
#: the variable that sets its slots
HEAVY_POOL_SLOTS_ENV = "VECTOROPS_HEAVY_POOL_SLOTS"
DEFAULT_HEAVY_POOL_SLOTS = 1
