"""The running task's Airflow context, as the task functions use it.

Imported only inside task bodies, like the task modules, so DAG parsing stays cheap.
"""

from __future__ import annotations

from typing import Any, cast


def current_context() -> dict[str, Any]:
    """The context of the running task.

    Airflow types it as a closed ``TypedDict``; at run time it is a plain dict that the task functions add
    ``collection`` to, which the failure notifier (:func:`vectorops.airflow.notifier.notify_failure`) reads.
    """
    from airflow.sdk import get_current_context

    return cast(dict[str, Any], get_current_context())
