"""The ``default_args`` every vectorops DAG shares: retries from the environment and the alerting callback.

DAG files import this module at parse time, so it imports only the stdlib and :mod:`vectorops.airflow.notifier`.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from vectorops.airflow.notifier import VectoropsNotifier


def default_args(retries: int = 2, **extra: Any) -> dict[str, Any]:
    """``default_args`` for a vectorops DAG.

    :param retries: task retries unless ``VECTOROPS_TASK_RETRIES`` is set.
    :param extra: more default arguments, e.g. ``execution_timeout``.
    :return: ``retries``, ``retry_delay`` (``VECTOROPS_RETRY_DELAY_S``, default 15 s), a
        :class:`~vectorops.airflow.notifier.VectoropsNotifier` as ``on_failure_callback``, and ``extra``.
    """
    return {"retries": int(os.environ.get("VECTOROPS_TASK_RETRIES") or retries),
            "retry_delay": timedelta(seconds=float(os.environ.get("VECTOROPS_RETRY_DELAY_S") or 15)),
            "on_failure_callback": VectoropsNotifier(), **extra}
