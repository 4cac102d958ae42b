"""``vectorops migrate --dry-run`` warns, with numbers, when the index estimate exceeds the memory cap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import add_records, chroma_client
from vectorops.cli import main


def test_the_dry_run_warns_when_the_index_estimate_exceeds_the_cap(
        tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    col = chroma_client(tmp_path).create_collection("dr-big", configuration={"hnsw": {"space": "l2"}})
    add_records(col, [f"r{i}" for i in range(3000)], np.random.default_rng(1).standard_normal((3000, 4),
                                                                                             dtype=np.float32))
    monkeypatch.setenv("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", "1")
    assert main.main(["migrate", "--chroma-path", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    plan = json.loads(out.strip().splitlines()[-1])["plans"][0]
    assert plan["index_memory_mb"] > 1
    expected = (f"the index estimate of {plan['index_memory_mb']} MB exceeds VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB=1: "
                "the build gets 1 MB and spills to disk (much slower)")
    assert plan["warnings"] == [expected]
    assert f"WARNING dr-big: {expected}" in out
    monkeypatch.delenv("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB")
    assert main.main(["migrate", "--chroma-path", str(tmp_path), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["plans"][0]["warnings"] == []
