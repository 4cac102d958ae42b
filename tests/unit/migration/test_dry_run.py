"""The index build's memory: the cap setting is checked against the machine's memory, and the dry run warns, with
numbers, when the estimate exceeds the cap, the memory or free /dev/shm."""

from __future__ import annotations

from pathlib import Path

import pytest

from vectorops.config import load_settings, machine_memory_mb
from vectorops.errors import SettingError
from vectorops.migration.dry_run import memory_warnings


def test_a_cap_above_the_machines_memory_is_a_one_line_error_naming_the_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    memory = machine_memory_mb()
    monkeypatch.setenv("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", str(memory + 1))
    with pytest.raises(SettingError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB={memory + 1} is above this machine's memory "
                              f"({memory} MB)") and "\n" not in message
    monkeypatch.setenv("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", str(memory))
    assert load_settings().max_maintenance_work_mem_mb == memory


def test_the_default_cap_fits_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", raising=False)
    assert load_settings().max_maintenance_work_mem_mb == max(64, min(4096, machine_memory_mb() // 2))


def test_memory_warnings_carry_the_numbers() -> None:
    assert memory_warnings(100, 4096, 16000, 8000) == []
    cap, ram, shm = memory_warnings(9000, 4096, 8000, 2000)
    assert "index estimate of 9000 MB exceeds VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB=4096" in cap
    assert "9000 MB exceeds this machine's memory (8000 MB)" in ram
    assert "4096 MB exceed the free space of /dev/shm (2000 MB)" in shm
    assert memory_warnings(9000, 4096, None, None) == [cap]  # an external server: its memory is unknown here


def test_an_external_server_is_not_measured_by_this_machines_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """With VECTOROPS_DSN the indexes are built on another machine: a cap above this one's memory is its business."""
    memory = machine_memory_mb()
    monkeypatch.setenv("VECTOROPS_DSN", "postgresql://user@db.example:5432/vectorops")
    monkeypatch.setenv("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", str(memory * 4))
    assert load_settings().max_maintenance_work_mem_mb == memory * 4


def test_a_container_limit_below_the_physical_memory_counts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from vectorops import config

    limit = tmp_path / "memory.max"
    limit.write_text(str(512 * 1024 * 1024) + "\n")
    monkeypatch.setattr(config, "_CGROUP_LIMITS", (limit,))
    assert machine_memory_mb() == 512
    limit.write_text("max\n")
    assert machine_memory_mb() > 512
