"""The default_args every vectorops DAG shares."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vectorops.airflow.defaults import default_args
from vectorops.airflow.notifier import VectoropsNotifier


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECTOROPS_TASK_RETRIES", raising=False)
    monkeypatch.delenv("VECTOROPS_RETRY_DELAY_S", raising=False)


def test_defaults() -> None:
    args = default_args()
    assert set(args) == {"retries", "retry_delay", "on_failure_callback"}
    assert args["retries"] == 2 and args["retry_delay"] == timedelta(seconds=15)
    assert isinstance(args["on_failure_callback"], VectoropsNotifier)
    assert args["on_failure_callback"].event == "task_failed"
    assert default_args()["on_failure_callback"] is not args["on_failure_callback"]


def test_the_environment_wins_over_the_dags_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_TASK_RETRIES", "0")
    monkeypatch.setenv("VECTOROPS_RETRY_DELAY_S", "0.5")
    args = default_args(retries=5)
    assert args["retries"] == 0 and args["retry_delay"] == timedelta(milliseconds=500)


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_TASK_RETRIES", "")
    monkeypatch.setenv("VECTOROPS_RETRY_DELAY_S", "")
    assert (default_args(retries=4)["retries"], default_args()["retry_delay"]) == (4, timedelta(seconds=15))


def test_extra_arguments_are_added_and_may_override() -> None:
    args = default_args(execution_timeout=timedelta(hours=1), retries=1, owner="vectorops")
    assert args["execution_timeout"] == timedelta(hours=1) and args["owner"] == "vectorops" and args["retries"] == 1
    overridden = default_args(on_failure_callback=None)
    assert overridden["on_failure_callback"] is None
