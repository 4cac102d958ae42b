"""Authentication of the Vector Health endpoints with the Airflow JWT the UI and the API use.

Airflow does not protect the FastAPI apps that plugins mount, so every endpoint depends on :func:`require_user`.
It reads the token the way Airflow 3's own ``get_user`` dependency does (``airflow.api_fastapi.core_api.security``):
an ``Authorization: Bearer`` header wins, else the ``_token`` cookie that the UI's login sets
(``COOKIE_NAME_JWT_TOKEN``). The token is checked by the configured auth manager's ``get_user_from_token``:
signature, expiry, audience and revocation, then the user is deserialised. Any failure is a 401 here (Airflow
answers 403 to a malformed token; a page behind a login wants 401 for every missing or bad credential).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request, status

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager

log = logging.getLogger(__name__)

class NotAuthenticated(HTTPException):
    """A request without a valid Airflow token (HTTP 401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


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
