"""The FastAPI application: ``create_app`` wires settings, database, clock and routers."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from homeport import __version__, wiring
from homeport.core.clock import Clock, SystemClock
from homeport.core.db import Database
from homeport.core.errors import HomeportError, Throttled, ValidationFailed
from homeport.core.settings import Settings, load_settings
from homeport.identity.api import LoginRequired
from homeport.web.middleware import RequestContextMiddleware
from homeport.web.templating import render

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title=f"Homeport — {settings.bsp_name}",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        description="Homeport's REST API. Authenticate with `Authorization: Bearer <token>` "
        "(`homeport tokens create`).",
    )
    app.state.settings = settings
    app.state.db = db or Database(settings.effective_database_url)
    app.state.clock = clock or SystemClock()
    wiring.connect(app.state.db, settings)

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.effective_secret_key(),
        session_cookie="homeport_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    app.add_middleware(RequestContextMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_error_handlers(app)

    from homeport.web import routes

    routes.include_all(app)
    return app


def _error_response(
    request: Request,
    status: int,
    message: str,
    errors: list[dict[str, object]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if wants_html(request):
        return render(
            request,
            "error.html",
            status_code=status,
            status=status,
            message=message,
            errors=errors or [],
        )
    body: dict[str, object] = {"detail": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if exc.page:
            target = "/portal/login" if exc.realm == "subscriber" else "/login"
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            from urllib.parse import quote

            return RedirectResponse(f"{target}?next={quote(nxt)}", status_code=303)
        return JSONResponse(
            {"detail": exc.message}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(HomeportError)
    async def _homeport_error(request: Request, exc: HomeportError) -> Response:
        headers: dict[str, str] = {}
        if isinstance(exc, Throttled):
            headers["Retry-After"] = str(exc.retry_after_s)
        errors: list[dict[str, object]] | None = None
        if isinstance(exc, ValidationFailed):
            errors = [{"line": e.line, "field": e.field, "message": e.message} for e in exc.errors]
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return _error_response(request, exc.status, exc.message, errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return _error_response(request, 422, "invalid request", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error_response(
            request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)
        )
