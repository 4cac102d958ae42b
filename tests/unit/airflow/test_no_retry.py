"""Deterministic errors fail an Airflow task at once; the rest keep Airflow's retries."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from vectorops.airflow.no_retry import no_retry, no_retry_for_deterministic_errors
from vectorops.db.ownership import NotCreatedByVectorops
from vectorops.errors import (
    DataError,
    IncompleteMigration,
    RequestError,
    SettingError,
    SourceChanged,
    SourceError,
    TargetRefused,
)


@pytest.mark.parametrize("error", [SettingError("VECTOROPS_CHUNK_ROWS must be >= 1"), SourceError("no store at /x"),
                                   TargetRefused("schema app was not created by vectorops"),
                                   NotCreatedByVectorops("table app.docs exists and was not created by vectorops"),
                                   RequestError("reembed='always' but collection 'docs' has no documents")])
def test_a_request_error_fails_the_task_without_retry_and_keeps_its_message(error: Exception) -> None:
    with pytest.raises(AirflowFailException, match=str(error)) as failed, no_retry_for_deterministic_errors():
        raise error
    assert failed.value.__cause__ is error


@pytest.mark.parametrize("error", [SourceChanged("the store was written while it was read"), ValueError("a bug"),
                                   DataError("a value"), IncompleteMigration("chunk 3 missing"), OSError("disk")])
def test_other_errors_keep_airflows_retries(error: Exception) -> None:
    with pytest.raises(type(error)) as raised, no_retry_for_deterministic_errors():
        raise error
    assert raised.value is error


def test_the_decorator_wraps_a_whole_task() -> None:
    @no_retry
    def task(value: int) -> int:
        if value < 0:
            raise SettingError("value must be >= 0")
        return value * 2

    assert task(21) == 42
    with pytest.raises(AirflowFailException, match="value must be >= 0"):
        task(-1)


def test_a_deterministic_postgres_error_fails_the_task_without_retry_naming_it() -> None:
    import psycopg.errors

    error = psycopg.errors.ProgramLimitExceeded("memory required is 76 MB, maintenance_work_mem is 64 MB\nmore")
    with pytest.raises(AirflowFailException, match=r"^PostgreSQL refused the statement \(54000 ProgramLimitExceeded, "
                                                   r"not retried: it would fail the same\): memory required is 76 MB, "
                                                   r"maintenance_work_mem is 64 MB \(an index build's memory is "
                                                   r"capped by VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB\)$"
                       ) as failed, no_retry_for_deterministic_errors():
        raise error
    assert failed.value.__cause__ is error


@pytest.mark.parametrize("name", ["OperationalError", "DeadlockDetected", "AdminShutdown", "DiskFull",
                                  "DuplicateTable", "UndefinedTable", "UniqueViolation", "LockNotAvailable",
                                  "DataException", "FeatureNotSupported"])
def test_transient_postgres_errors_keep_airflows_retries(name: str) -> None:
    import psycopg.errors

    cls = getattr(psycopg, name, None) or getattr(psycopg.errors, name)
    error = cls("try again")
    with pytest.raises(cls) as raised, no_retry_for_deterministic_errors():
        raise error
    assert raised.value is error


def test_a_missing_privilege_is_not_retried() -> None:
    import psycopg.errors

    denied = r"42501 InsufficientPrivilege, not retried.*\): permission denied for schema app$"
    with pytest.raises(AirflowFailException, match=denied), no_retry_for_deterministic_errors():
        raise psycopg.errors.InsufficientPrivilege("permission denied for schema app")
