"""A Chroma server's Airflow connection: where the server is, how to trust it, and how to log in.

The connection (type ``chroma``) holds what a :class:`~vectorops.chroma.source.SourceSpec` must not, because a spec
travels in plans through XCom: the token or password, the CA bundle and whether to verify. Its fields:

- **host**, **port**: the server (port default 8000, or 443 with HTTPS); a host written ``https://name`` turns
  HTTPS on;
- **password**: the token (``auth_type`` ``x-chroma-token`` or ``bearer``), or the basic-auth password with
  **login**;
- extras: ``https`` (true/false), ``ca_bundle`` (path of the PEM file of the CA that signed the server's
  certificate), ``verify`` (default true), ``auth_type`` (``x-chroma-token`` | ``bearer`` | ``basic``; default
  ``basic`` with a login, else ``bearer``), ``tenant`` (default ``default_tenant``), ``database`` (default: every
  database of the tenant).

A connection is read through Airflow (:func:`read_connection`), so secrets backends work and the task's secrets
masker learns the password; outside a task, Airflow reads ``AIRFLOW_CONN_*`` variables and the configured
backends. Airflow is imported only inside that function. :func:`connection_from_url` turns the CLI's
``--chroma-conn`` URL into Airflow's JSON form of a connection.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from vectorops.airflow.connections import find_airflow_connection, mask_secret
from vectorops.errors import SourceError

CONN_TYPE = "chroma"
#: the connection ``vectorops migrate --chroma-conn URL`` makes for its own process only (never recorded)
PROCESS_CONN = "vectorops_cli_chroma"
AUTH_TYPES = ("x-chroma-token", "bearer", "basic")
DEFAULT_PORT = 8000
HTTPS_PORT = 443
#: the characters chromadb 1.5.9 allows in a token (``chromadb.auth.token_authn.valid_token_chars``)
TOKEN_CHARS = frozenset(string.digits + string.ascii_letters + string.punctuation)
URL_KEYS = ("tenant", "database", "token", "ca_bundle", "verify", "auth_type")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


@dataclass(frozen=True)
class ServerConnection:
    """A Chroma server connection, checked. ``password`` (the token) never shows in ``repr``."""

    conn_id: str
    host: str
    port: int
    ssl: bool
    tenant: str | None
    database: str | None
    auth_type: str
    login: str | None
    password: str | None = field(repr=False)
    ca_bundle: str | None
    verify: bool

    def headers(self) -> dict[str, str]:
        """The HTTP headers that authenticate a request, as chromadb's own client auth providers build them
        (``TokenAuthClientProvider``: ``X-Chroma-Token: <token>`` or ``Authorization: Bearer <token>``;
        ``BasicAuthClientProvider``: ``Authorization: Basic base64(login:password)``). None without a password.
        """
        import base64

        if not self.password:
            return {}
        if self.auth_type == "basic":
            pair = f"{self.login or ''}:{self.password}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
        if self.auth_type == "x-chroma-token":
            return {"X-Chroma-Token": self.password}
        return {"Authorization": f"Bearer {self.password}"}


def _extra(extra: Mapping[str, Any], key: str) -> Any:
    """An extra as the UI form (``extra__chroma__<key>``, older Airflow) or by hand (``<key>``) stored it."""
    value = extra.get(key)
    return extra.get(f"extra__{CONN_TYPE}__{key}") if value in (None, "") else value


def _flag(conn_id: str, extra: Mapping[str, Any], key: str, default: bool) -> bool:
    value = _extra(extra, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise SourceError(f"extra {key!r} of connection {conn_id!r} is {value!r}: use true or false")


def _name(conn_id: str, extra: Mapping[str, Any], key: str) -> str | None:
    value = _extra(extra, key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise SourceError(f"extra {key!r} of connection {conn_id!r} is {value!r}: give a name")
    return value.strip()


def server_connection(conn_id: str, host: str | None, port: int | None, login: str | None, password: str | None,
                      extra: Mapping[str, Any]) -> ServerConnection:
    """Check the fields of connection ``conn_id`` and apply the defaults.

    :raises SourceError: naming the connection and the field to fix.
    """
    host = (host or "").strip()
    ssl = _flag(conn_id, extra, "https", False)
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host, ssl = host[len(scheme):].rstrip("/"), ssl or scheme == "https://"
    if not host:
        raise SourceError(f"connection {conn_id!r} has no host: set the Chroma server's host name")
    auth_type = (_name(conn_id, extra, "auth_type") or ("basic" if login else "bearer")).lower()
    if auth_type not in AUTH_TYPES:
        raise SourceError(f"extra 'auth_type' of connection {conn_id!r} is {auth_type!r}: use one of "
                          f"{', '.join(AUTH_TYPES)}")
    if password and auth_type != "basic" and not set(password) <= TOKEN_CHARS:
        raise SourceError(f"the password (token) of connection {conn_id!r} has characters Chroma does not allow in "
                          "a token: only ASCII letters, digits and punctuation")
    return ServerConnection(
        conn_id=conn_id, host=host, port=int(port) if port else (HTTPS_PORT if ssl else DEFAULT_PORT), ssl=ssl,
        tenant=_name(conn_id, extra, "tenant"), database=_name(conn_id, extra, "database"), auth_type=auth_type,
        login=login or None, password=password or None, ca_bundle=_name(conn_id, extra, "ca_bundle"),
        verify=_flag(conn_id, extra, "verify", True))


def read_connection(conn_id: str) -> ServerConnection:
    """Read connection ``conn_id`` through Airflow (``BaseHook.get_connection``: the task's secrets backends and
    its secrets masker; outside a task, ``AIRFLOW_CONN_*`` variables and the configured backends). The auth header
    values join the secrets masker too.

    :raises SourceError: naming the connection when it is not defined or its fields are wrong.
    """
    try:
        conn = find_airflow_connection(conn_id)
    except Exception as exc:  # a malformed AIRFLOW_CONN_* value, a secrets backend error
        raise SourceError(f"Airflow connection {conn_id!r} cannot be read ({type(exc).__name__}): check its "
                          "definition") from None
    if conn is None:
        raise SourceError(f"Airflow connection {conn_id!r} (chroma_conn) is not defined: create it, or set "
                          f"AIRFLOW_CONN_{conn_id.upper()}")
    found = server_connection(conn_id, conn.host, conn.port, conn.login, conn.password, conn.extra)
    for value in found.headers().values():  # Airflow masks the password; a Basic header encodes it
        mask_secret(value)
    return found


def connection_from_url(url: str) -> str:
    """Airflow's JSON form of a connection, from the CLI's
    ``http(s)://[login:password@]host[:port]/?tenant=&database=&token=&ca_bundle=&verify=&auth_type=``.

    :raises ValueError: naming what is wrong with the URL (never echoing it: it may hold a secret).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("--chroma-conn URL must look like https://[login:password@]host:port/?tenant=...")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("--chroma-conn URL has a port that is not a number from 1 to 65535") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - set(URL_KEYS))
    if unknown:
        raise ValueError(f"--chroma-conn URL has unknown parameter(s) {', '.join(unknown)}; known: "
                         f"{', '.join(URL_KEYS)}")
    if parts.path not in ("", "/"):
        raise ValueError("--chroma-conn URL has a path; put tenant and database in ?tenant=...&database=...")
    login = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    token = query.pop("token", None)
    if token and password:
        raise ValueError("--chroma-conn URL has both a password and ?token=: give one")
    extra: dict[str, Any] = {"https": scheme == "https"}
    extra.update({key: value for key, value in query.items() if value != ""})
    if token and login and "auth_type" not in extra:
        extra["auth_type"] = "bearer"  # a token with a login is still a token
    secret = token or password
    doc = {"conn_type": CONN_TYPE, "host": parts.hostname, "port": port, "login": login, "password": secret,
           "extra": extra}
    server_connection("--chroma-conn", parts.hostname, port, login, secret, extra)  # fails early, same words
    return json.dumps(doc)


def recorded_conn_id(spec: Any) -> str | None:
    """The connection id to record for a source read through ``spec`` (a :class:`SourceSpec`): its connection,
    unless that exists only in the process that read it (:data:`PROCESS_CONN`)."""
    conn_id = getattr(spec, "conn_id", None)
    return None if conn_id in (None, PROCESS_CONN) else str(conn_id)
