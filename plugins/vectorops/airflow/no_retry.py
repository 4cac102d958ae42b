"""Deterministic failures fail an Airflow task at once: retrying a wrong path, token, certificate, setting or
password, or a target vectorops may not write, cannot help."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg

from vectorops.db.connect import LoginRefused
from vectorops.errors import RequestError, SourceChanged

Result = TypeVar("Result")

#: SQLSTATE classes whose errors come back the same on a retry: a value PostgreSQL refuses (22), a limit of the
#: server or an extension ("memory required is 273 MB, maintenance_work_mem is 107 MB", 54), a feature the server
#: lacks (0A). Connection, lock, resource, conflict and shutdown errors (08, 23, 40, 53, 55, 57) keep their retries,
#: and so does class 42 but for a missing privilege: a relation another attempt created or dropped a moment ago
#: (42P07, 42P01) is a race a retry settles.
DETERMINISTIC_SQLSTATE_CLASSES = frozenset({"22", "54", "0A"})
DETERMINISTIC_SQLSTATES = frozenset({"42501"})  # insufficient_privilege


@contextmanager
def no_retry_for_deterministic_errors() -> Iterator[None]:
    """Fail the task at once on a :class:`~vectorops.errors.RequestError`: a source error (a wrong path, token,
    tenant or certificate stays wrong on retry), a setting vectorops cannot use, a target the migration may not
    write (a table vectorops did not create, a collection in another schema); on a refused login; and on a
    PostgreSQL error of :data:`DETERMINISTIC_SQLSTATE_CLASSES` or :data:`DETERMINISTIC_SQLSTATES`.

    Only :class:`~vectorops.errors.SourceChanged` (the source was written while it was read) is retried.
    """
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except SourceChanged:
        raise
    except (RequestError, LoginRefused) as exc:  # RequestError: SettingError, SourceError, TargetRefused (and so
        # ownership.NotCreatedByVectorops)
        raise AirflowFailException(str(exc)) from exc
    except psycopg.Error as exc:
        if exc.sqlstate is None or (exc.sqlstate[:2] not in DETERMINISTIC_SQLSTATE_CLASSES
                                    and exc.sqlstate not in DETERMINISTIC_SQLSTATES):
            raise
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AirflowFailException(f"PostgreSQL refused it ({exc.sqlstate} {type(exc).__name__}): {first_line}"
                                   ) from exc


def no_retry(task: Callable[..., Result]) -> Callable[..., Result]:
    """:func:`no_retry_for_deterministic_errors` around a whole task function."""

    @functools.wraps(task)
    def run(*args: Any, **kwargs: Any) -> Result:
        with no_retry_for_deterministic_errors():
            return task(*args, **kwargs)

    return run
