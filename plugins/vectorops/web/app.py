"""The Vector Health FastAPI app, mounted by the Airflow API server at ``/vector-health``.

``GET /`` is the HTML page; ``GET /api/collections`` returns ``{"collections": [...]}``, one document per migrated
collection (see :func:`vectorops.web.queries.collection_health`), and ``GET /api/recovery`` returns
``{"recovery": {...}}``, the database's recovery drills and WAL archive (see
:func:`vectorops.web.recovery_status.recovery_health`). All need an authenticated Airflow user
(:mod:`vectorops.airflow.web_auth`): 401 otherwise; and one the auth manager lets read the ``vectorops_reader``
connection the page reads with (``op`` and ``admin``, not ``viewer``): 403 otherwise. When the vectors database
cannot be read they answer 503, naming its host and port, never its password.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from vectorops.airflow.dag_schedule import DagSchedule, dag_schedule
from vectorops.airflow.web_auth import NotAuthenticated, NotAuthorized, login_url, require_connection_reader
from vectorops.config import load_settings
from vectorops.db.roles import READER
from vectorops.errors import SettingError
from vectorops.web import page, queries, recovery_status

log = logging.getLogger(__name__)
URL_PREFIX = "/vector-health"
NO_STORE = {"Cache-Control": "no-store"}

User = Annotated[Any, Depends(require_connection_reader(READER))]
Days = Annotated[int, Query(ge=1, le=90, description="How many days of search metrics the charts show.")]


def create_app() -> FastAPI:
    """A new Vector Health app; the plugin mounts it at :data:`URL_PREFIX`."""
    app = FastAPI(title="Vector Health", description=__doc__, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)  # type: ignore[arg-type]
    app.add_exception_handler(NotAuthorized, _not_authorized)  # type: ignore[arg-type]
    app.add_exception_handler(queries.DatabaseUnavailable, _database_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(SettingError, _bad_setting)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]

    @app.get("/", response_class=HTMLResponse, summary="The Vector Health page")
    def health_page(user: User, days: Days = 7) -> HTMLResponse:
        """One row per migrated collection (with its live-sync state and lag), the database's point-in-time
        recovery, and each collection's p95 latency and recall@10 over time."""
        target = queries.current_target()
        settings = load_settings()
        collections = queries.collection_health(target)
        series = queries.metric_series(target, days=days) if collections else {}
        recovery = recovery_status.recovery_health(target, settings.backup.max_age_h)
        html = page.collections_page(collections, series, max_p95_ms=settings.monitor.max_p95_ms,
                                     min_recall=settings.monitor.min_recall, days=days, generated_at=_now(),
                                     max_lag_s=settings.sync_max_lag_s, monitor=_monitor_schedule(),
                                     recovery=recovery)
        return HTMLResponse(html, headers=NO_STORE)

    @app.get("/api/collections", summary="Health of every migrated collection")
    def collections_json(user: User) -> JSONResponse:
        """``{"collections": [...]}``: the documents the page shows, one per migrated collection."""
        collections = queries.collection_health(queries.current_target())
        return JSONResponse({"collections": collections}, headers=NO_STORE)

    @app.get("/api/recovery", summary="Point-in-time recovery of the vectors database")
    def recovery_json(user: User) -> JSONResponse:
        """``{"recovery": {...}}``: the recovery drills and the WAL archive the page shows."""
        recovery = recovery_status.recovery_health(queries.current_target(), load_settings().backup.max_age_h)
        return JSONResponse({"recovery": recovery}, headers=NO_STORE)

    return app


def _now() -> datetime:
    return datetime.now(UTC)


def _monitor_schedule() -> DagSchedule | str:
    """The monitor DAG's schedule from Airflow, or why it is not known: the page still shows without it."""
    try:
        return dag_schedule(page.MONITOR_DAG_ID) or "Airflow has not parsed it yet"
    except Exception as exc:  # the metadata database is Airflow's to report on; this is one line of the page
        log.warning("vector health: no schedule for %s: %s", page.MONITOR_DAG_ID, type(exc).__name__)
        return f"Airflow's metadata database could not be read: {type(exc).__name__}"


def _wants_json(request: Request) -> bool:
    path, root = request.scope.get("path", ""), request.scope.get("root_path", "")
    relative = path[len(root):] if root and path.startswith(root) else path
    return relative.startswith("/api/")


def _not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
    headers = {**NO_STORE, **(exc.headers or {})}
    if _wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    return HTMLResponse(page.sign_in_page(login_url(str(request.url.path))), status_code=exc.status_code,
                        headers=headers)


def _not_authorized(request: Request, exc: NotAuthorized) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=NO_STORE)
    return HTMLResponse(page.forbidden_page(exc.detail), status_code=exc.status_code, headers=NO_STORE)


def _database_unavailable(request: Request, exc: queries.DatabaseUnavailable) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": "the vectors database is unavailable", "reason": exc.reason,
                             "database": {"host": exc.host, "port": exc.port}}, status_code=503, headers=NO_STORE)
    return HTMLResponse(page.error_page(exc.host, exc.port, exc.reason), status_code=503, headers=NO_STORE)


async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
    """A bad query parameter: the API keeps FastAPI's JSON; the page says it in one line, naming the parameter."""
    if _wants_json(request):
        return await request_validation_exception_handler(request, exc)
    problems = "; ".join(f"{'.'.join(str(part) for part in error['loc'][1:])}: {error['msg']} "
                         f"(got {error.get('input')!r})" for error in exc.errors())
    return HTMLResponse(page.bad_request_page(problems), status_code=422, headers=NO_STORE)


def _bad_setting(request: Request, exc: SettingError) -> Response:
    return _database_unavailable(request, queries.DatabaseUnavailable("?", "?", f"SettingError: {exc}"))
