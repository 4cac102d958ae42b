"""Fail points: parsed from the environment, silent elsewhere, and a real SIGKILL on the hit asked for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from vectorops import failpoints


@pytest.mark.parametrize(("spec", "parsed"), [("promote", ("promote", 1)), ("copy_batch:3", ("copy_batch", 3)),
                                              (" chunk_commit:1 ", ("chunk_commit", 1))])
def test_parse(spec: str, parsed: tuple[str, int]) -> None:
    assert failpoints.parse(spec) == parsed


@pytest.mark.parametrize("spec", ["promote:0", "promote:-2", "promote:x"])
def test_a_bad_count_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        failpoints.parse(spec)


def test_nothing_happens_without_the_variable_or_for_another_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(failpoints.ENV, raising=False)
    failpoints.hit("promote")
    monkeypatch.setenv(failpoints.ENV, "index_build")
    failpoints.hit("promote")
    assert "promote" not in failpoints._hits


def _child(spec: str, calls: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys\nfrom vectorops import failpoints\n"
            f"for i, name in enumerate({calls!r}.split(',')):\n"
            "    failpoints.hit(name)\n"
            "    print(i, name, flush=True)\n")
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, failpoints.ENV: spec},
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_nth_hit_kills_the_process() -> None:
    result = _child("copy_batch:2", "copy_batch,promote,copy_batch,copy_batch")
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.splitlines() == ["0 copy_batch", "1 promote"]
    assert "vectorops failpoint copy_batch:2 hit in pid" in result.stderr


def test_a_point_never_reached_lets_the_process_finish() -> None:
    result = _child("promote", "copy_batch,stage_ids")
    assert result.returncode == 0 and result.stdout.splitlines() == ["0 copy_batch", "1 stage_ids"]
