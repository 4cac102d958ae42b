"""Chroma servers: an HTTP client with TLS, auth, tenant and database, and every collection of a tenant.

A :class:`~vectorops.chroma.preflight.SourceSpec` says where the server is and which tenant and database to read; the
token, the CA bundle and ``verify`` come from its Airflow connection ``conn_id`` when a client is first opened
(:mod:`vectorops.chroma.connection`), and never travel in the spec. Before chromadb's client is built, one request
(``GET /api/v2/auth/identity``, with a timeout) tells a refused connection, an untrusted certificate and refused
credentials apart, which chromadb's own errors do not. Every failure is one :class:`SourceError` line that names
the setting to fix; a retry cannot fix any of them.

chromadb and httpx are imported inside the functions that need them, never at module import.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vectorops.chroma import connection
from vectorops.chroma.connection import ServerConnection
from vectorops.chroma.preflight import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionRef, SourceSpec
from vectorops.errors import SourceError

API_PATH = "/api/v2"
PROBE_TIMEOUT_S = 30.0

_lock = threading.RLock()
_options: dict[SourceSpec, _Options] = {}
_clients: dict[tuple[SourceSpec, str, str], Any] = {}
_admins: dict[SourceSpec, Any] = {}


@dataclass(frozen=True)
class _Options:
    """How to reach one server: its connection (None: plain, no auth), the auth headers and chromadb's ``verify``."""

    conn: ServerConnection | None
    headers: dict[str, str] = field(repr=False)
    verify: bool | str | None


def source_from_connection(conn_id: str) -> SourceSpec:
    """The source described by Airflow connection ``conn_id``: host, port, HTTPS, tenant and database, no secret.

    :raises SourceError: naming the connection when it is not defined or a field is wrong.
    """
    conn = connection.read_connection(conn_id)
    return SourceSpec(host=conn.host, port=conn.port, conn_id=conn_id, ssl=conn.ssl, tenant=conn.tenant,
                      database=conn.database)


def _where(spec: SourceSpec) -> str:
    return f"{'https' if spec.ssl else 'http'}://{spec.host}:{spec.port}"


def _conn_name(spec: SourceSpec) -> str:
    return f"connection {spec.conn_id!r}" if spec.conn_id else "the source given as chroma_host and chroma_port"


def _server_options(spec: SourceSpec) -> _Options:
    """Read the connection and probe the server, once per spec and process."""
    with _lock:
        found = _options.get(spec)
        if found is None:
            conn = connection.read_connection(spec.conn_id) if spec.conn_id else None
            verify: bool | str | None = None
            if conn and not conn.verify:
                verify = False
            elif conn and conn.ca_bundle:
                if not Path(conn.ca_bundle).is_file():
                    raise SourceError(f"CA bundle {conn.ca_bundle!r} (extra 'ca_bundle' of {_conn_name(spec)}) is not "
                                      "a file on this worker")
                verify = conn.ca_bundle
            found = _Options(conn=conn, headers=conn.headers() if conn else {}, verify=verify)
            _probe(spec, found)
            _options[spec] = found
    return found


def _ssl_context(spec: SourceSpec, options: _Options) -> ssl.SSLContext | bool:
    """What the probe verifies with: as chromadb will (``None``: httpx's default, certifi's CA bundle)."""
    if options.verify is None:
        return True
    if options.verify is False:
        return False
    try:
        return ssl.create_default_context(cafile=str(options.verify))
    except (ssl.SSLError, OSError) as exc:
        raise SourceError(f"CA bundle {options.verify!r} (extra 'ca_bundle' of {_conn_name(spec)}) is not a PEM "
                          f"certificate file ({exc.__class__.__name__})") from None


def _probe(spec: SourceSpec, options: _Options) -> None:
    """One authenticated request, so each failure is told apart and named."""
    import httpx

    url = f"{_where(spec)}{API_PATH}/auth/identity"
    try:
        with httpx.Client(verify=_ssl_context(spec, options), timeout=PROBE_TIMEOUT_S) as http:
            status = http.get(url, headers=options.headers).status_code
    except SourceError:
        raise
    except Exception as exc:
        raise source_error(spec, exc) from None
    if status in (401, 403):
        raise _refused(spec, options.conn, f"HTTP {status}")
    if status >= 400:
        raise SourceError(f"Chroma server {_where(spec)} answered HTTP {status} to GET {API_PATH}/auth/identity: is "
                          f"it a Chroma server (1.x), and are host and port of {_conn_name(spec)} right?")


def _refused(spec: SourceSpec, conn: ServerConnection | None, status: str) -> SourceError:
    where = _where(spec)
    if conn is None:
        return SourceError(f"Chroma server {where} asks for credentials ({status}): give chroma_conn, an Airflow "
                           "connection holding its token")
    if not conn.password:
        return SourceError(f"Chroma server {where} asks for credentials ({status}) and {_conn_name(spec)} has none: "
                           "set its password (token)")
    fix = ("check its login and password (extra 'auth_type' is basic)" if conn.auth_type == "basic" else
           f"check its password (token), sent as extra 'auth_type' {conn.auth_type!r} says")
    return SourceError(f"Chroma server {where} refused the credentials of {_conn_name(spec)} ({status}): {fix}")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def source_error(spec: SourceSpec, exc: BaseException, tenant: str | None = None,
                 database: str | None = None) -> SourceError:
    """One line for a failure talking to the server of ``spec``, naming the setting to fix.

    :param tenant: the tenant of the request that failed (default: the spec's).
    :param database: its database (default: the spec's).
    """
    import httpx
    from chromadb.errors import AuthorizationError, ChromaAuthError, NotFoundError

    if isinstance(exc, SourceError):
        return exc
    chain = _chain(exc)
    conn = _options[spec].conn if spec in _options else None
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            fix = (f"set extra 'ca_bundle' of {_conn_name(spec)} to the CA that signed it, or 'verify': false"
                   if spec.conn_id else "give chroma_conn, a connection with its CA bundle (extra 'ca_bundle')")
            return SourceError(f"the TLS certificate of Chroma server {_where(spec)} is not trusted "
                               f"({error.verify_message}): {fix}")
        if isinstance(error, ssl.SSLError):
            return SourceError(f"TLS with Chroma server {_where(spec)} failed ({error.reason or error}): does it "
                               f"speak HTTPS? Check extra 'https' of {_conn_name(spec)}")
        if isinstance(error, ChromaAuthError | AuthorizationError):
            return _refused(spec, conn, "HTTP 401/403")
        if isinstance(error, NotFoundError):
            what = _first_line(error)
            if what.startswith("Tenant"):
                return SourceError(f"tenant {(tenant or spec.tenant or DEFAULT_TENANT)!r} not found on "
                                   f"Chroma server {_where(spec)}: check extra 'tenant' of {_conn_name(spec)}")
            if what.startswith("Database"):
                name = database or spec.database or DEFAULT_DATABASE
                return SourceError(f"database {name!r} not found in tenant "
                                   f"{(tenant or spec.tenant or DEFAULT_TENANT)!r} on Chroma server "
                                   f"{_where(spec)}: check extra 'database' of {_conn_name(spec)}")
    for error in chain:
        if isinstance(error, httpx.TimeoutException):
            return SourceError(f"Chroma server {_where(spec)} did not answer within {PROBE_TIMEOUT_S:.0f}s: check "
                               f"host and port of {_conn_name(spec)}, and that the server is up")
        if isinstance(error, httpx.ReadError | httpx.RemoteProtocolError | ConnectionResetError):
            return SourceError(f"Chroma server {_where(spec)} closed the connection without answering: if it speaks "
                               f"HTTPS, set extra 'https' of {_conn_name(spec)}; else check its host and port")
        if isinstance(error, httpx.ConnectError | ConnectionError):
            return SourceError(f"cannot connect to Chroma server {spec.host}:{spec.port} ({_first_line(error)}): is "
                               f"it running, and are host and port of {_conn_name(spec)} right?")
    return SourceError(f"Chroma server {_where(spec)} failed: {type(exc).__name__}: {_first_line(exc)}")


def _settings(spec: SourceSpec, options: _Options, admin: bool) -> Any:
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, chroma_server_ssl_verify=options.verify,
                        chroma_server_headers=dict(options.headers))
    if admin:  # chromadb.HttpClient sets these itself
        settings.chroma_api_impl = "chromadb.api.fastapi.FastAPI"
        settings.chroma_server_host = spec.host
        settings.chroma_server_http_port = spec.port
        settings.chroma_server_ssl_enabled = spec.ssl
    return settings


def open_http_client(spec: SourceSpec, tenant: str | None = None, database: str | None = None) -> Any:
    """A ``chromadb.HttpClient`` for the server of ``spec``, one per (spec, tenant, database) and process.

    TLS (HTTPS, the CA bundle, ``verify``) and auth (a token as ``X-Chroma-Token`` or ``Authorization: Bearer``,
    or basic login and password) come from the connection ``spec.conn_id``; without one, plain HTTP, no auth.

    :param tenant: the tenant (default: ``spec.tenant``, else ``default_tenant``).
    :param database: the database (default: ``spec.database``, else ``default_database``).
    :raises SourceError: one line naming the setting to fix (connection, credentials, certificate, tenant,
        database, host and port).
    """
    import chromadb

    if not spec.host:
        raise SourceError(f"{spec.uri} is not a Chroma server: give chroma_host or chroma_conn")
    tenant = tenant or spec.tenant or DEFAULT_TENANT
    database = database or spec.database or DEFAULT_DATABASE
    key = (spec, tenant, database)
    with _lock:
        client = _clients.get(key)
        if client is None:
            options = _server_options(spec)
            try:
                client = chromadb.HttpClient(host=spec.host, port=spec.port, ssl=spec.ssl,
                                             headers=dict(options.headers), settings=_settings(spec, options, False),
                                             tenant=tenant, database=database)
            except Exception as exc:
                raise source_error(spec, exc, tenant, database) from None
            _clients[key] = client
    return client


def _admin_client(spec: SourceSpec) -> Any:
    import chromadb

    with _lock:
        admin = _admins.get(spec)
        if admin is None:
            options = _server_options(spec)
            try:
                admin = chromadb.AdminClient(_settings(spec, options, True))
            except Exception as exc:
                raise source_error(spec, exc) from None
            _admins[spec] = admin
    return admin


def list_collections(spec: SourceSpec) -> list[CollectionRef]:
    """Every collection of the server's tenant (``spec.tenant``, else ``default_tenant``) in every database of that
    tenant, or only in ``spec.database`` when set; sorted by tenant, database and name.

    :raises SourceError: one line naming the setting to fix (an unknown tenant or database among them).
    """
    tenant = spec.tenant or DEFAULT_TENANT
    admin = _admin_client(spec)
    try:
        admin.get_tenant(tenant)  # list_databases of an unknown tenant is empty, not an error
        databases = [spec.database] if spec.database else sorted(d["name"] for d in admin.list_databases(
            tenant=tenant))
    except Exception as exc:
        raise source_error(spec, exc, tenant) from None
    refs: list[CollectionRef] = []
    for database in databases:
        client = open_http_client(spec, tenant, database)
        try:
            names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
        except Exception as exc:
            raise source_error(spec, exc, tenant, database) from None
        refs.extend(CollectionRef(tenant, database, name) for name in names)
    return sorted(refs)


def forget_clients() -> None:
    """Drop this process's clients and what was read from connections (after a connection changed)."""
    with _lock:
        _clients.clear()
        _admins.clear()
        _options.clear()
