"""Authentication and authorisation of the Vector Health endpoints with the Airflow JWT the UI and the API use.

Airflow does not protect the FastAPI apps that plugins mount, so every endpoint depends on :func:`require_user`
(who is it: 401 otherwise) through :func:`require_connection_reader` (may they see it: 403 otherwise).
It reads the token the way Airflow 3's own ``get_user`` dependency does (``airflow.api_fastapi.core_api.security``):
an ``Authorization: Bearer`` header wins, else the ``_token`` cookie that the UI's login sets
(``COOKIE_NAME_JWT_TOKEN``). The token is checked by the configured auth manager's ``get_user_from_token``:
signature, expiry, audience and revocation, then the user is deserialised. Any failure is a 401 here (Airflow
answers 403 to a malformed token; a page behind a login wants 401 for every missing or bad credential).

Vector Health shows what the ``vectorops_reader`` connection reads: every collection's tables, health and the
database's host. So a user may see it when the auth manager lets them read that connection
(``is_authorized_connection(method="GET", details=ConnectionDetails(conn_id=...))``, the check Airflow's own
``GET /api/v2/connections/{connection_id}`` makes). The simple auth manager gives that to ``op`` and ``admin``
only, FAB to roles with "can read on Connections" (Op, Admin): a ``viewer`` (or ``user``) gets 403.
``is_authorized_view`` and ``is_authorized_custom_view`` would not do: the simple auth manager grants both to every
role, ``viewer`` included.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager

log = logging.getLogger(__name__)


class NotAuthenticated(HTTPException):
    """A request without a valid Airflow token (HTTP 401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


class NotAuthorized(HTTPException):
    """An authenticated user the auth manager does not allow to see Vector Health (HTTP 403)."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=status.HTTP_403_FORBIDDEN, detail=detail)


def auth_manager() -> BaseAuthManager:
    """The API server's auth manager; created and initialised here when this app runs outside the API server."""
    from airflow.api_fastapi.app import get_auth_manager, init_auth_manager

    try:
        return get_auth_manager()
    except RuntimeError:  # not initialised: a test client, or a process other than the API server
        return init_auth_manager()


def request_token(request: Request) -> str | None:
    """The JWT of ``request``: the ``Authorization: Bearer`` header, else the ``_token`` cookie."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization") or ""
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE_NAME_JWT_TOKEN) or None


async def require_user(request: Request) -> Any:
    """FastAPI dependency: the Airflow user of the request.

    :raises NotAuthenticated: without a token, or when the auth manager rejects it (bad signature, expired,
        revoked, wrong audience, unknown user shape).
    """
    token = request_token(request)
    if not token:
        raise NotAuthenticated("Not authenticated")
    from jwt import ExpiredSignatureError, InvalidTokenError

    try:
        return await auth_manager().get_user_from_token(token)
    except ExpiredSignatureError:
        raise NotAuthenticated("Token expired") from None
    except (InvalidTokenError, ValueError, KeyError):
        raise NotAuthenticated("Invalid token") from None
    except Exception as exc:  # e.g. a FAB user deleted while their token is still valid
        log.info("token rejected: %s", type(exc).__name__)
        raise NotAuthenticated("Invalid token") from None


def login_url(next_url: str) -> str | None:
    """Airflow's login page, coming back to ``next_url``; ``None`` when the auth manager cannot say."""
    try:
        return auth_manager().get_url_login(next_url=next_url)
    except Exception as exc:  # only a convenience link on the 401 page
        log.debug("no login URL from the auth manager: %s", exc)
        return None


def require_connection_reader(conn_id: str) -> Callable[..., Awaitable[Any]]:
    """A FastAPI dependency: the request's user (:func:`require_user`), when the auth manager lets them read the
    Airflow connection ``conn_id``.

    :param conn_id: the connection whose data the endpoint shows.
    """

    async def connection_reader(user: Annotated[Any, Depends(require_user)]) -> Any:
        from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

        if not auth_manager().is_authorized_connection(method="GET", details=ConnectionDetails(conn_id=conn_id),
                                                       user=user):
            raise NotAuthorized(f"{user.get_name()} may not see Vector Health: it shows what the Airflow "
                                f"connection {conn_id!r} reads, and this user may not read that connection")
        return user

    return connection_reader
