"""The settings of the scheduled jobs: maintenance, backups, point-in-time recovery and the search monitor.

Built by :func:`vectorops.config.load_settings`; each is a typed, frozen part of :class:`vectorops.config.Settings`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vectorops.env_values import int_env
from vectorops.errors import SettingError


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
    :param remote: the off-site copy of the repository (``VECTOROPS_PITR_REMOTE``: an Airflow ``ObjectStoragePath``
        URL, ``s3://<conn_id>@bucket/path``, ``gs://``, ``abfs://`` or ``file:///path``; ``None``, the default: none).
    """

    directory: Path
    archive: bool = True
    archive_timeout_s: int = 50
    full_every_days: float = 7.0
    keep_full: int = 2
    remote: str | None = None

    @property
    def wal_dir(self) -> Path:
        """The WAL archive."""
        return self.directory / "wal"

    @property
    def base_dir(self) -> Path:
        """The base backups, one directory each."""
        return self.directory / "base"


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


#: characters a repository path may not hold: PostgreSQL expands ``%`` in ``restore_command``, and its tools hand
#: paths to a shell (``pg_verifybackup`` runs ``pg_waldump`` through one), where these quote or expand
_UNSAFE_PATH_CHARACTERS = set('%"$`\\\n')


def pitr_dir(home: Path) -> Path:
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


_URL = re.compile(r"^[a-z][a-z0-9+.-]*://.+$")


def pitr_remote(home: Path, repository: Path, backups: Path) -> str | None:
    """``VECTOROPS_PITR_REMOTE``, checked: a URL with its scheme; a ``file://`` one absolute (``file:///path``) and
    apart from the local repository, ``VECTOROPS_HOME`` (the server's data and vectorops' own areas) and the logical
    backups."""
    raw = os.environ.get("VECTOROPS_PITR_REMOTE", "").strip()
    if not raw:
        return None
    if not _URL.match(raw):
        raise SettingError(f"VECTOROPS_PITR_REMOTE={raw!r} is not an object storage URL: give its scheme "
                           "(s3://<conn_id>@bucket/path, gs://..., abfs://..., file:///path)")
    if raw.startswith("file:"):
        if not raw.startswith("file:///"):
            raise SettingError(f"VECTOROPS_PITR_REMOTE={raw!r} is not an absolute file URL: write file:///path "
                               "(three slashes)")
        local = Path(raw.removeprefix("file://")).expanduser().resolve()
        for name, area in (("the local repository", repository), ("VECTOROPS_HOME", home),
                           ("the logical backups' directory", backups)):
            area = area.resolve()
            if local == area or area in local.parents or local in area.parents:
                raise SettingError(f"VECTOROPS_PITR_REMOTE={raw!r} is inside or above {name} {area}: an off-site "
                                   "copy must be somewhere of its own, on another disk")
    return raw


def archive_timeout_s() -> int:
    value = int_env("VECTOROPS_ARCHIVE_TIMEOUT_S", 50)
    if value > 86400:
        raise SettingError(f"VECTOROPS_ARCHIVE_TIMEOUT_S={value} is above a day: the archive's RPO would be that long; "
                           "choose at most 86400")
    return value
