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

#: PostgreSQL errors that come back the same on a retry: a limit of the server or an extension (class 54:
#: "memory required is 273 MB, maintenance_work_mem is 107 MB") and a missing privilege (42501). Other classes
#: keep their retries, data exceptions (22) and "cached plan must not change result type" (0A) among them: a
#: table promoted under a long task (other dimensions, another column type) makes both, and a retry settles it.
DETERMINISTIC_SQLSTATE_CLASSES = frozenset({"54"})
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
        message = exc.diag.message_primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        hint = f" (hint: {exc.diag.message_hint})" if exc.diag.message_hint else ""
        setting = (" (an index build's memory is capped by VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB)"
                   if "maintenance_work_mem" in message else "")
        raise AirflowFailException(f"PostgreSQL refused the statement ({exc.sqlstate} {type(exc).__name__}, not "
                                   f"retried: it would fail the same): {message}{hint}{setting}") from exc


def no_retry(task: Callable[..., Result]) -> Callable[..., Result]:
    """:func:`no_retry_for_deterministic_errors` around a whole task function."""

    @functools.wraps(task)
    def run(*args: Any, **kwargs: Any) -> Result:
        with no_retry_for_deterministic_errors():
            return task(*args, **kwargs)

    return run
