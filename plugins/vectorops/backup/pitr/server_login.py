"""How PostgreSQL's own tools and a recovered copy log in to the server PITR covers: the embedded server's superuser,
or ``VECTOROPS_DSN``'s role for an external one. The password travels in ``PGPASSWORD``, never in argv."""

from __future__ import annotations

import os

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vectorops.config import Settings


def external_params(settings: Settings) -> dict[str, str]:
    """``VECTOROPS_DSN``'s connection parameters (empty for the embedded server)."""
    return {k: str(v) for k, v in conninfo_to_dict(settings.external_dsn or "").items() if v is not None}


def server_env(settings: Settings) -> dict[str, str]:
    """The environment of a tool that logs in to the server as its superuser (the embedded one) or as
    ``VECTOROPS_DSN``'s role (an external one): the password in ``PGPASSWORD``, never in argv."""
    password = external_params(settings).get("password") if settings.external_dsn else settings.db_password
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    return {**env, "PGPASSWORD": password} if password else env


def server_conninfo(settings: Settings, port: int | None = None) -> str:
    """The server's login for its tools, without the password (:func:`server_env` carries it): the embedded
    server's superuser, or ``VECTOROPS_DSN``'s role."""
    if settings.external_dsn:
        params = {k: v for k, v in external_params(settings).items() if k != "password"}
        return make_conninfo(**params)
    return make_conninfo(host="127.0.0.1", port=port or settings.db_port, user=settings.db_user, dbname="postgres")


def server_login(settings: Settings) -> tuple[str, str | None]:
    """The user and password a recovered copy of the server takes: the backup holds the server's roles, so the
    embedded server's superuser, or ``VECTOROPS_DSN``'s role and password."""
    if settings.external_dsn:
        params = external_params(settings)
        return params.get("user") or os.environ.get("PGUSER") or "postgres", params.get("password")
    return settings.db_user, settings.db_password
