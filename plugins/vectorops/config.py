"""Typed, frozen settings built from the environment in one place (the scheduled jobs' parts in
:mod:`vectorops.job_settings`, the parsing of each value in :mod:`vectorops.env_values`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from vectorops.env_values import float_env, int_env, on_off_env, port_env
from vectorops.errors import SettingError
from vectorops.job_settings import (
    BackupSettings,
    MaintenanceSettings,
    MonitorSettings,
    PitrSettings,
    archive_timeout_s,
    pitr_dir,
    pitr_remote,
)

__all__ = ["AirflowPorts", "BackupSettings", "MaintenanceSettings", "MonitorSettings", "PitrSettings", "Settings",
           "load_airflow_ports", "load_settings", "machine_memory_mb"]


@dataclass(frozen=True)
class Settings:
    """Everything vectorops reads from the environment.

    :param home: where the embedded server, Airflow home and demo data live (``VECTOROPS_HOME``).
    :param external_dsn: an external PostgreSQL to use instead of the embedded one (``VECTOROPS_DSN``).
    :param db_port: TCP port of the embedded server on 127.0.0.1 (``VECTOROPS_DB_PORT``).

    :param db_user: superuser of the embedded server (``VECTOROPS_DB_USER``).
    :param db_password: its password, a local-only value (``VECTOROPS_DB_PASSWORD``).
    :param db_shared_buffers_mb: ``shared_buffers`` of the embedded server (``VECTOROPS_DB_SHARED_BUFFERS_MB``;
        default an eighth of the machine's memory, from 128 MB to 2 GB, so that tables and their HNSW graphs
        stay in PostgreSQL's cache).
    :param chroma_path: default Chroma PersistentClient path (``CHROMA_DB_PATH``).
    :param fetch_batch: records fetched from Chroma per request, capped by Chroma's max batch size
        (``VECTOROPS_FETCH_BATCH``).
    :param chunk_rows: rows per mapped load chunk (``VECTOROPS_CHUNK_ROWS``).
    :param max_maintenance_work_mem_mb: the most memory an index build may ask for
        (``VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB``; default 4 GB or half the machine's memory, never above it).
    :param claim_ttl_s: seconds after which an idle claim on a collection by another run is stale
        (``VECTOROPS_CLAIM_TTL_S``).
    :param validation_sample: ids compared exactly with the source in the validation sample
        (``VECTOROPS_VALIDATION_SAMPLE``).
    :param validation_seed: seed of that sample, so a validation can be repeated (``VECTOROPS_VALIDATION_SEED``).
    :param min_top10_overlap: the least top-10 overlap between Chroma's own query and the loaded table that the
        validation gate lets through (``VECTOROPS_MIN_TOP10_OVERLAP``, default 0.95); below it nothing is promoted.
    :param sync_max_lag_s: seconds the oldest change a sync left unapplied may have waited before ``chroma_sync``
        alerts and fails the collection's task (``VECTOROPS_SYNC_MAX_LAG_S``, default 900).
    :param maintenance: see :class:`MaintenanceSettings`.
    :param backup: see :class:`BackupSettings`.
    :param pitr: see :class:`PitrSettings`.
    :param monitor: see :class:`MonitorSettings`.
    """

    home: Path
    external_dsn: str | None = field(repr=False)
    db_port: int
    db_user: str
    db_password: str = field(repr=False)
    db_shared_buffers_mb: int
    chroma_path: str | None
    fetch_batch: int
    chunk_rows: int
    max_maintenance_work_mem_mb: int
    claim_ttl_s: int
    backup: BackupSettings
    pitr: PitrSettings
    validation_sample: int = 200
    validation_seed: int = 0
    min_top10_overlap: float = 0.95
    sync_max_lag_s: float = 900.0
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)
    monitor: MonitorSettings = field(default_factory=MonitorSettings)

    @property
    def pgdata(self) -> Path:
        """Data directory of the embedded server."""
        return self.home / "pgdata"

    @property
    def airflow_home(self) -> Path:
        """``AIRFLOW_HOME`` used by ``make run`` and the CLI."""
        return self.home / "airflow"


@dataclass(frozen=True)
class AirflowPorts:
    """The ports of the local platform's Airflow (``make run``), read when its environment is built.

    :param api: the UI and API (``AIRFLOW_PORT``, default 8080).
    :param worker_log: the task log server, on 127.0.0.1 (``AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT``, Airflow's
        own setting, default 8793).
    :param trigger_log: the triggerer log server, on 127.0.0.1 (``AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT``,
        default 8794).
    """

    api: int = 8080
    worker_log: int = 8793
    trigger_log: int = 8794


def load_airflow_ports() -> AirflowPorts:
    """Read :class:`AirflowPorts` from the environment as it is now.

    :raises SettingError: naming the variable whose value is not a port.
    """
    return AirflowPorts(api=port_env("AIRFLOW_PORT", 8080),
                        worker_log=port_env("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", 8793),
                        trigger_log=port_env("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", 8794))


#: where a container's memory limit is (cgroup v2, then v1): a limit below the physical memory is what counts
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def machine_memory_mb() -> int:
    """The memory this process may use, in MB: the machine's physical memory, or the container's (cgroup) memory
    limit when that is lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw.isdigit():  # "max" (v2) means no limit; v1 reports a huge number instead
            physical = min(physical, int(raw))
        break
    return physical // (1024 * 1024)


def _default_shared_buffers_mb() -> int:
    return max(128, min(2048, machine_memory_mb() // 8))


def _max_maintenance_work_mem_mb(external: bool) -> int:
    """``VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB``: default 4 GB or half the machine's memory, whichever is less.

    :param external: the database runs elsewhere (``VECTOROPS_DSN``): this machine's memory says nothing of it.
    :raises SettingError: when it is above the memory of this machine, where the embedded server builds indexes: an
        index build sized to it would be killed or swap.
    """
    memory_mb = machine_memory_mb()
    value = int_env("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", max(64, min(4096, memory_mb // 2)))
    if value > memory_mb and not external:
        raise SettingError(f"VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB={value} is above this machine's memory "
                           f"({memory_mb} MB): an index build given that much maintenance_work_mem would be killed "
                           "or swap; set it below the memory")
    return value


def load_settings() -> Settings:
    """Read :class:`Settings` from the environment.

    :raises SettingError: naming the variable whose value is unusable.
    """
    home = Path(os.environ.get("VECTOROPS_HOME") or ".vectorops").expanduser().resolve()
    backup_dir = Path(os.environ.get("VECTOROPS_BACKUP_DIR") or home / "backups").expanduser().resolve()
    return Settings(
        home=home,
        external_dsn=os.environ.get("VECTOROPS_DSN") or None,
        db_port=port_env("VECTOROPS_DB_PORT", 54329, minimum=1024),
        db_user=os.environ.get("VECTOROPS_DB_USER") or "vectorops",
        db_password=os.environ.get("VECTOROPS_DB_PASSWORD") or "vectorops-local",
        db_shared_buffers_mb=int_env("VECTOROPS_DB_SHARED_BUFFERS_MB", _default_shared_buffers_mb(), minimum=16),
        chroma_path=os.environ.get("CHROMA_DB_PATH") or None,
        fetch_batch=int_env("VECTOROPS_FETCH_BATCH", 5000),
        chunk_rows=int_env("VECTOROPS_CHUNK_ROWS", 100_000),
        max_maintenance_work_mem_mb=_max_maintenance_work_mem_mb(bool(os.environ.get("VECTOROPS_DSN"))),
        claim_ttl_s=int_env("VECTOROPS_CLAIM_TTL_S", 600),
        validation_sample=int_env("VECTOROPS_VALIDATION_SAMPLE", 200),
        validation_seed=int_env("VECTOROPS_VALIDATION_SEED", 0, minimum=0),
        min_top10_overlap=float_env("VECTOROPS_MIN_TOP10_OVERLAP", 0.95, maximum=1.0),
        sync_max_lag_s=float_env("VECTOROPS_SYNC_MAX_LAG_S", 900.0),
        maintenance=MaintenanceSettings(
            lock_timeout_ms=int_env("VECTOROPS_MAINT_LOCK_TIMEOUT_MS", 5000),
            statement_timeout_s=int_env("VECTOROPS_MAINT_STATEMENT_TIMEOUT_S", 7200),
            concurrent_lock_timeout_s=int_env("VECTOROPS_MAINT_CONCURRENT_LOCK_TIMEOUT_S", 600),
            vacuum_dead_ratio=float_env("VECTOROPS_VACUUM_DEAD_RATIO", 0.1, maximum=1.0),
            vacuum_min_dead=int_env("VECTOROPS_VACUUM_MIN_DEAD_TUPLES", 1000, minimum=0),
            analyze_max_age_h=float_env("VECTOROPS_ANALYZE_MAX_AGE_HOURS", 24.0),
            reindex_churn_ratio=float_env("VECTOROPS_REINDEX_CHURN_RATIO", 0.2),
            reindex_growth_ratio=float_env("VECTOROPS_REINDEX_GROWTH_RATIO", 0.2),
        ),
        backup=BackupSettings(
            directory=backup_dir,
            keep=int_env("VECTOROPS_BACKUP_KEEP", 7),
            retention_days=float_env("VECTOROPS_BACKUP_RETENTION_DAYS", 30.0, minimum=1.0),
            max_age_h=float_env("VECTOROPS_BACKUP_MAX_AGE_HOURS", 26.0, minimum=1.0),
        ),
        pitr=PitrSettings(
            directory=pitr_dir(home),
            archive=on_off_env("VECTOROPS_WAL_ARCHIVE", True),
            archive_timeout_s=archive_timeout_s(),
            full_every_days=float_env("VECTOROPS_BASE_FULL_DAYS", 7.0, minimum=0.0, maximum=3650.0),
            keep_full=int_env("VECTOROPS_BASE_KEEP_FULL", 2),
            remote=pitr_remote(home, pitr_dir(home), backup_dir),
        ),
        monitor=MonitorSettings(
            probes=int_env("VECTOROPS_MONITOR_PROBES", 50),
            seed=int_env("VECTOROPS_MONITOR_SEED", 0, minimum=0),
            ef_search=int_env("VECTOROPS_HNSW_EF_SEARCH", 0) if os.environ.get("VECTOROPS_HNSW_EF_SEARCH") else None,
            max_p95_ms=float_env("VECTOROPS_MONITOR_MAX_P95_MS", 50.0),
            min_recall=float_env("VECTOROPS_MONITOR_MIN_RECALL", 0.95, maximum=1.0),
            statement_timeout_s=int_env("VECTOROPS_MONITOR_STATEMENT_TIMEOUT_S", 300),
        ),
    )
