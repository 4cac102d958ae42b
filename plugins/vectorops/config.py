"""Typed, frozen settings built from the environment in one place."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from vectorops.errors import SettingError


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingError(f"{name}={raw!r} is not an integer") from exc
    if value < minimum:
        raise SettingError(f"{name}={value} must be at least {minimum}")
    return value


def _port_env(name: str, default: int, minimum: int = 1) -> int:
    value = _int_env(name, default, minimum)
    if value > 65535:
        raise SettingError(f"{name}={value} is not a TCP port (at most 65535)")
    return value


def _float_env(name: str, default: float, minimum: float = 0.0, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingError(f"{name}={raw!r} is not a number") from exc
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingError(f"{name}={raw} must be a number {bound}")
    return value


@dataclass(frozen=True)
class MaintenanceSettings:
    """How ``pgvector_maintenance`` decides and how long it may wait.

    :param lock_timeout_ms: ``lock_timeout`` of every maintenance session (``VECTOROPS_MAINT_LOCK_TIMEOUT_MS``).
    :param statement_timeout_s: ``statement_timeout`` of every maintenance session
        (``VECTOROPS_MAINT_STATEMENT_TIMEOUT_S``).
    :param concurrent_lock_timeout_s: ``lock_timeout`` of ``REINDEX`` / ``DROP INDEX CONCURRENTLY``, which wait for
        older transactions without blocking anyone (``VECTOROPS_MAINT_CONCURRENT_LOCK_TIMEOUT_S``).
    :param vacuum_dead_ratio: dead / (live + dead) tuples from which a table is vacuumed
        (``VECTOROPS_VACUUM_DEAD_RATIO``).
    :param vacuum_min_dead: fewest dead tuples worth a VACUUM (``VECTOROPS_VACUUM_MIN_DEAD_TUPLES``).
    :param analyze_max_age_h: hours after which a table is analysed again (``VECTOROPS_ANALYZE_MAX_AGE_HOURS``).
    :param reindex_churn_ratio: rows inserted, updated or deleted since the index build, as a share of the rows
        it was built on, from which the index is rebuilt (``VECTOROPS_REINDEX_CHURN_RATIO``).
    :param reindex_growth_ratio: growth of the table since the index build from which it is rebuilt
        (``VECTOROPS_REINDEX_GROWTH_RATIO``).
    """

    lock_timeout_ms: int = 5000
    statement_timeout_s: int = 7200
    concurrent_lock_timeout_s: int = 600
    vacuum_dead_ratio: float = 0.1
    vacuum_min_dead: int = 1000
    analyze_max_age_h: float = 24.0
    reindex_churn_ratio: float = 0.2
    reindex_growth_ratio: float = 0.2


@dataclass(frozen=True)
class BackupSettings:
    """Where backups go and how long they are kept.

    :param directory: backup root (``VECTOROPS_BACKUP_DIR``, default ``VECTOROPS_HOME/backups``).
    :param keep: verified backups kept (``VECTOROPS_BACKUP_KEEP``).
    :param retention_days: verified backups older than this are removed, the newest one excepted
        (``VECTOROPS_BACKUP_RETENTION_DAYS``).
    :param max_age_h: alert when the newest verified backup is older (``VECTOROPS_BACKUP_MAX_AGE_HOURS``).
    """

    directory: Path
    keep: int = 7
    retention_days: float = 30.0
    max_age_h: float = 26.0


@dataclass(frozen=True)
class PitrSettings:
    """Point-in-time recovery of the embedded server: its WAL archive and its physical base backups.

    :param directory: the repository (``VECTOROPS_PITR_DIR``, default ``VECTOROPS_HOME/pitr``): ``wal/`` the
        archive, ``base/`` the base backups. It is apart from the logical backups' directory because the server's
        own user writes it.
    :param archive: archive every WAL segment (``VECTOROPS_WAL_ARCHIVE``: ``on``, the default, or ``off`` for a
        throwaway server: then the server runs ``wal_level=minimal`` and nothing can be recovered to a point in time).
    :param archive_timeout_s: the longest a finished transaction waits before its WAL segment is closed and
        archived (``VECTOROPS_ARCHIVE_TIMEOUT_S``, default 50: the archive's RPO is this plus the copy, under the
        60 s objective; a segment closed early is still 16 MB in the archive, so shorter costs space).
    :param full_every_days: a base backup is full when the chain's full one is older than this, else incremental
        (``VECTOROPS_BASE_FULL_DAYS``, default 7).
    :param keep_full: full base backups kept, each with the backups taken on it and the WAL they need
        (``VECTOROPS_BASE_KEEP_FULL``, default 2).
    """

    directory: Path
    archive: bool = True
    archive_timeout_s: int = 50
    full_every_days: float = 7.0
    keep_full: int = 2

    @property
    def wal_dir(self) -> Path:
        """The WAL archive."""
        return self.directory / "wal"

    @property
    def base_dir(self) -> Path:
        """The base backups, one directory each."""
        return self.directory / "base"


#: characters a repository path may not hold: PostgreSQL expands ``%`` in ``restore_command``, and its tools hand
#: paths to a shell (``pg_verifybackup`` runs ``pg_waldump`` through one), where these quote or expand
_UNSAFE_PATH_CHARACTERS = set('%"$`\\\n')


def _pitr_dir(home: Path) -> Path:
    raw = os.environ.get("VECTOROPS_PITR_DIR") or str(home / "pitr")
    unsafe = sorted(set(raw) & _UNSAFE_PATH_CHARACTERS)
    if unsafe:
        raise SettingError(f"VECTOROPS_PITR_DIR={raw!r} holds {' '.join(map(repr, unsafe))}: PostgreSQL's restore "
                           "command and tools would expand or split it; choose a path without them")
    path = Path(raw).expanduser().resolve()
    pgdata = (home / "pgdata").resolve()
    if path == Path(path.anchor):
        raise SettingError(f"VECTOROPS_PITR_DIR={raw!r} is the file system's root: choose a directory of its own")
    if path == pgdata or pgdata in path.parents or path in pgdata.parents:
        raise SettingError(f"VECTOROPS_PITR_DIR={raw!r} is inside or above the server's data {pgdata}: a base backup "
                           "would copy the repository into itself; choose a directory of its own")
    return path


def _archive_timeout_s() -> int:
    value = _int_env("VECTOROPS_ARCHIVE_TIMEOUT_S", 50)
    if value > 86400:
        raise SettingError(f"VECTOROPS_ARCHIVE_TIMEOUT_S={value} is above a day: the archive's RPO would be that long; "
                           "choose at most 86400")
    return value


def _on_off_env(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise SettingError(f"{name}={os.environ.get(name)!r} must be on or off")


@dataclass(frozen=True)
class MonitorSettings:
    """The search monitor's probes and thresholds.

    :param probes: query vectors per table (``VECTOROPS_MONITOR_PROBES``).
    :param seed: seed of the probe sample (``VECTOROPS_MONITOR_SEED``).
    :param ef_search: ``hnsw.ef_search`` to probe at (``VECTOROPS_HNSW_EF_SEARCH``; default the collection's
        own, as recorded at migration).
    :param max_p95_ms: p95 latency above which the monitor alerts (``VECTOROPS_MONITOR_MAX_P95_MS``).
    :param min_recall: recall@10 below which it alerts and flags the index (``VECTOROPS_MONITOR_MIN_RECALL``).
    :param statement_timeout_s: ``statement_timeout`` of every monitor session
        (``VECTOROPS_MONITOR_STATEMENT_TIMEOUT_S``).
    """

    probes: int = 50
    seed: int = 0
    ef_search: int | None = None
    max_p95_ms: float = 50.0
    min_recall: float = 0.95
    statement_timeout_s: int = 300


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
    maintenance: MaintenanceSettings = MaintenanceSettings()
    monitor: MonitorSettings = MonitorSettings()

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
    return AirflowPorts(api=_port_env("AIRFLOW_PORT", 8080),
                        worker_log=_port_env("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", 8793),
                        trigger_log=_port_env("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", 8794))


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
    value = _int_env("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", max(64, min(4096, memory_mb // 2)))
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
    return Settings(
        home=home,
        external_dsn=os.environ.get("VECTOROPS_DSN") or None,
        db_port=_port_env("VECTOROPS_DB_PORT", 54329, minimum=1024),
        db_user=os.environ.get("VECTOROPS_DB_USER") or "vectorops",
        db_password=os.environ.get("VECTOROPS_DB_PASSWORD") or "vectorops-local",
        db_shared_buffers_mb=_int_env("VECTOROPS_DB_SHARED_BUFFERS_MB", _default_shared_buffers_mb(), minimum=16),
        chroma_path=os.environ.get("CHROMA_DB_PATH") or None,
        fetch_batch=_int_env("VECTOROPS_FETCH_BATCH", 5000),
        chunk_rows=_int_env("VECTOROPS_CHUNK_ROWS", 100_000),
        max_maintenance_work_mem_mb=_max_maintenance_work_mem_mb(bool(os.environ.get("VECTOROPS_DSN"))),
        claim_ttl_s=_int_env("VECTOROPS_CLAIM_TTL_S", 600),
        validation_sample=_int_env("VECTOROPS_VALIDATION_SAMPLE", 200),
        validation_seed=_int_env("VECTOROPS_VALIDATION_SEED", 0, minimum=0),
        min_top10_overlap=_float_env("VECTOROPS_MIN_TOP10_OVERLAP", 0.95, maximum=1.0),
        sync_max_lag_s=_float_env("VECTOROPS_SYNC_MAX_LAG_S", 900.0),
        maintenance=MaintenanceSettings(
            lock_timeout_ms=_int_env("VECTOROPS_MAINT_LOCK_TIMEOUT_MS", 5000),
            statement_timeout_s=_int_env("VECTOROPS_MAINT_STATEMENT_TIMEOUT_S", 7200),
            concurrent_lock_timeout_s=_int_env("VECTOROPS_MAINT_CONCURRENT_LOCK_TIMEOUT_S", 600),
            vacuum_dead_ratio=_float_env("VECTOROPS_VACUUM_DEAD_RATIO", 0.1, maximum=1.0),
            vacuum_min_dead=_int_env("VECTOROPS_VACUUM_MIN_DEAD_TUPLES", 1000, minimum=0),
            analyze_max_age_h=_float_env("VECTOROPS_ANALYZE_MAX_AGE_HOURS", 24.0),
            reindex_churn_ratio=_float_env("VECTOROPS_REINDEX_CHURN_RATIO", 0.2),
            reindex_growth_ratio=_float_env("VECTOROPS_REINDEX_GROWTH_RATIO", 0.2),
        ),
        backup=BackupSettings(
            directory=Path(os.environ.get("VECTOROPS_BACKUP_DIR") or home / "backups").expanduser().resolve(),
            keep=_int_env("VECTOROPS_BACKUP_KEEP", 7),
            retention_days=_float_env("VECTOROPS_BACKUP_RETENTION_DAYS", 30.0, minimum=1.0),
            max_age_h=_float_env("VECTOROPS_BACKUP_MAX_AGE_HOURS", 26.0, minimum=1.0),
        ),
        pitr=PitrSettings(
            directory=_pitr_dir(home),
            archive=_on_off_env("VECTOROPS_WAL_ARCHIVE", True),
            archive_timeout_s=_archive_timeout_s(),
            full_every_days=_float_env("VECTOROPS_BASE_FULL_DAYS", 7.0, minimum=0.0, maximum=3650.0),
            keep_full=_int_env("VECTOROPS_BASE_KEEP_FULL", 2),
        ),
        monitor=MonitorSettings(
            probes=_int_env("VECTOROPS_MONITOR_PROBES", 50),
            seed=_int_env("VECTOROPS_MONITOR_SEED", 0, minimum=0),
            ef_search=_int_env("VECTOROPS_HNSW_EF_SEARCH", 0) if os.environ.get("VECTOROPS_HNSW_EF_SEARCH") else None,
            max_p95_ms=_float_env("VECTOROPS_MONITOR_MAX_P95_MS", 50.0),
            min_recall=_float_env("VECTOROPS_MONITOR_MIN_RECALL", 0.95, maximum=1.0),
            statement_timeout_s=_int_env("VECTOROPS_MONITOR_STATEMENT_TIMEOUT_S", 300),
        ),
    )
