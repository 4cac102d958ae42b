"""The ``default_args`` every vectorops DAG shares: retries from the environment and the alerting callback.

DAG files import this module at parse time, so it imports only the stdlib, :mod:`vectorops.airflow.notifier` and
:mod:`vectorops.errors`.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from vectorops.airflow.notifier import VectoropsNotifier
from vectorops.errors import SettingError


def default_args(retries: int = 2, **extra: Any) -> dict[str, Any]:
    """``default_args`` for a vectorops DAG.

    :param retries: task retries unless ``VECTOROPS_TASK_RETRIES`` is set.
    :param extra: more default arguments, e.g. ``execution_timeout``.
    :return: ``retries``, ``retry_delay`` (``VECTOROPS_RETRY_DELAY_S``, default 15 s), a
        :class:`~vectorops.airflow.notifier.VectoropsNotifier` as ``on_failure_callback``, and ``extra``.
    """
    return {"retries": int(_number("VECTOROPS_TASK_RETRIES", retries, whole=True)),
            "retry_delay": timedelta(seconds=_number("VECTOROPS_RETRY_DELAY_S", 15, whole=False)),
            "on_failure_callback": VectoropsNotifier(), **extra}


def _number(name: str, default: float, *, whole: bool) -> float:
    """``name``'s value, a number of at least 0 (a whole one when ``whole``), else ``default`` when unset.

    :raises SettingError: naming the variable: every DAG that imports this would fail to parse with its message.
    """
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a {'whole ' if whole else ''}number") from None
    if not 0 <= value < float("inf"):
        raise SettingError(f"{name}={raw!r} must be at least 0")
    return value
