"""Typed, frozen settings built from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class SettingError(ValueError):
    """A setting from the environment or a parameter has a value we cannot use."""


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


@dataclass(frozen=True)
class Settings:
    """Everything vectorops reads from the environment.

    :param home: where the embedded server, Airflow home and demo data live (``VECTOROPS_HOME``).
    :param external_dsn: an external PostgreSQL to use instead of the embedded one (``VECTOROPS_DSN``).
    :param db_port: TCP port of the embedded server on 127.0.0.1 (``VECTOROPS_DB_PORT``).
    :param db_user: superuser of the embedded server (``VECTOROPS_DB_USER``).
    :param db_password: its password, a local-only value (``VECTOROPS_DB_PASSWORD``).
    :param chroma_path: default Chroma PersistentClient path (``CHROMA_DB_PATH``).
    :param fetch_batch: records fetched from Chroma per request, capped by Chroma's max batch size
        (``VECTOROPS_FETCH_BATCH``).
    :param chunk_rows: rows per mapped load chunk (``VECTOROPS_CHUNK_ROWS``).
    :param max_maintenance_work_mem_mb: the most memory an index build may ask for
        (``VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB``).
    :param claim_ttl_s: seconds after which an idle claim on a collection by another run is stale
        (``VECTOROPS_CLAIM_TTL_S``).
    :param validation_sample: ids compared exactly with the source in the validation sample
        (``VECTOROPS_VALIDATION_SAMPLE``).
    :param validation_seed: seed of that sample, so a validation can be repeated (``VECTOROPS_VALIDATION_SEED``).
    """

    home: Path
    external_dsn: str | None
    db_port: int
    db_user: str
    db_password: str
    chroma_path: str | None
    fetch_batch: int
    chunk_rows: int
    max_maintenance_work_mem_mb: int
    claim_ttl_s: int
    validation_sample: int = 200
    validation_seed: int = 0

    @property
    def pgdata(self) -> Path:
        """Data directory of the embedded server."""
        return self.home / "pgdata"

    @property
    def airflow_home(self) -> Path:
        """``AIRFLOW_HOME`` used by ``make run`` and the CLI."""
        return self.home / "airflow"


def load_settings() -> Settings:
    """Read :class:`Settings` from the environment.

    :raises SettingError: naming the variable whose value is unusable.
    """
    home = Path(os.environ.get("VECTOROPS_HOME") or ".vectorops").expanduser().resolve()
    return Settings(
        home=home,
        external_dsn=os.environ.get("VECTOROPS_DSN") or None,
        db_port=_int_env("VECTOROPS_DB_PORT", 54329, minimum=1024),
        db_user=os.environ.get("VECTOROPS_DB_USER") or "vectorops",
        db_password=os.environ.get("VECTOROPS_DB_PASSWORD") or "vectorops-local",
        chroma_path=os.environ.get("CHROMA_DB_PATH") or None,
        fetch_batch=_int_env("VECTOROPS_FETCH_BATCH", 5000),
        chunk_rows=_int_env("VECTOROPS_CHUNK_ROWS", 100_000),
        max_maintenance_work_mem_mb=_int_env("VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB", 4096, minimum=64),
        claim_ttl_s=_int_env("VECTOROPS_CLAIM_TTL_S", 600),
        validation_sample=_int_env("VECTOROPS_VALIDATION_SAMPLE", 200),
        validation_seed=_int_env("VECTOROPS_VALIDATION_SEED", 0, minimum=0),
    )
