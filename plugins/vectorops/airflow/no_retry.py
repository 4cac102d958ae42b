"""Deterministic failures fail an Airflow task at once: retrying a wrong path, token, certificate, setting or
password, or a target vectorops may not write, cannot help."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from vectorops.db.connect import LoginRefused
from vectorops.errors import RequestError, SourceChanged

Result = TypeVar("Result")


@contextmanager
def no_retry_for_deterministic_errors() -> Iterator[None]:
    """Fail the task at once on a :class:`~vectorops.errors.RequestError`: a source error (a wrong path, token,
    tenant or certificate stays wrong on retry), a setting vectorops cannot use, a target the migration may not
    write (a table vectorops did not create, a collection in another schema); and on a refused login.

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


def no_retry(task: Callable[..., Result]) -> Callable[..., Result]:
    """:func:`no_retry_for_deterministic_errors` around a whole task function."""

    @functools.wraps(task)
    def run(*args: Any, **kwargs: Any) -> Result:
        with no_retry_for_deterministic_errors():
            return task(*args, **kwargs)

    return run
