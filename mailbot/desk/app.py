"""The admin's desk: mailbot's own web application, served under `/admin`.

`create_desk_app(config, engine, portal)` builds it (Starlette, Jinja2 templates in French,
DSFR look); `with_desk(desk, other)` puts it in front of another application (the portal
stand-in in the embedded default) so that one server answers both. The desk reads mailbot's
tables through mailbot's engine and reaches the portal only through `Portal` (its login check).

Its session cookie (`SESSION_COOKIE`, path `/admin`) is signed with a key derived from the
instance secret (`Config.secret()`) unless the wiring gives one. The DSFR files are served
under `/admin/static/dsfr` from the folder the wiring gives (`dsfr_dir`); nothing is loaded
from another site, and the CSP says so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailbot.config import Config
from mailbot.desk import accounts, auth, case_views, documents, stats, views
from mailbot.desk.auth import LoginThrottle
from mailbot.desk.healthz import PATH as HEALTHZ_PATH
from mailbot.desk.sessions import SESSION_LIFETIME, DeskSessions
from mailbot.desk.web import (
    CSRF_MESSAGE,
    LOGIN_PATH,
    PREFIX,
    STATIC_PREFIX,
    CsrfRefused,
    DeskState,
    PortalFactory,
    error_page,
)

log = logging.getLogger(__name__)

OWN_STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "bureau_session"
SESSION_MAX_AGE = int(SESSION_LIFETIME.total_seconds())  # as long as the server-side session
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def is_desk_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class SecurityHeaders:
    """CSP and friends on every response; pages (not static files) are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PREFIX + "/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequireAdmin:
    """Everything under /admin but the login page and the static files needs a signed-in
    admin; anyone else is sent to the login page (a page asked for is kept as `suite`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == LOGIN_PATH or path.startswith(STATIC_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        desk: DeskState = scope["app"].state.desk
        if desk.admin_of(scope["session"]) is not None:
            await self.app(scope, receive, send)
            return
        scope["session"].pop("admin", None)
        scope["session"].pop("sid", None)
        target = LOGIN_PATH
        if scope["method"] in ("GET", "HEAD"):
            query = scope.get("query_string", b"").decode("latin-1")
            target += "?" + urlencode({"suite": path + (f"?{query}" if query else "")})
        await RedirectResponse(target, status_code=303)(scope, receive, send)


def session_secret(config: Config) -> str:
    """The cookie key: the instance secret, through HMAC with a label of its own (so that a
    cookie key never equals the key of reviewer tokens)."""
    return hmac.new(config.secret(), b"mailbot desk session", hashlib.sha256).hexdigest()


def _static_mounts(dsfr_dir: Path | None) -> tuple[list[Mount], bool]:
    mounts = [
        Mount(f"{STATIC_PREFIX}/bureau", StaticFiles(directory=OWN_STATIC), name="desk-static")
    ]
    if dsfr_dir is not None and (dsfr_dir / "dsfr.min.css").is_file():
        mounts.append(
            Mount(f"{STATIC_PREFIX}/dsfr", StaticFiles(directory=dsfr_dir), name="desk-dsfr")
        )
        return mounts, True
    log.warning("DSFR assets missing (%s): the desk is served without the design system", dsfr_dir)
    return mounts, False


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_page(request, exc.status_code)


async def _csrf_refused(request: Request, _exc: Exception) -> Response:
    return error_page(request, 403, CSRF_MESSAGE)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("desk page %s failed", request.url.path, exc_info=exc)
    return error_page(request, 500)


def create_desk_app(
    config: Config,
    engine: Engine,
    portal: PortalFactory,
    *,
    dsfr_dir: Path | None = None,
    secret: str | None = None,
    now: Callable[[], datetime] | None = None,
) -> Starlette:
    """The desk. `portal` gives the `Portal` for a database session (as the runner's
    `portal_factory`); `dsfr_dir` is the DSFR's `dist` folder; `secret` signs the session
    cookie (default: derived from `config.secret()`); `now` is for tests."""
    mounts, dsfr = _static_mounts(dsfr_dir)
    app = Starlette(
        routes=[
            *auth.routes,
            *views.routes,
            *accounts.routes,
            *documents.routes,
            *stats.routes,
            *case_views.routes,
            *mounts,
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=secret or session_secret(config),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                path=PREFIX,
                same_site="lax",
                https_only=config.portal.base_url.startswith("https://"),
            ),
            Middleware(RequireAdmin),
        ],
        exception_handlers={
            HTTPException: _http_error,
            CsrfRefused: _csrf_refused,
            Exception: _server_error,
        },
    )
    app.state.desk = DeskState(
        config=config,
        engine=engine,
        portal=portal,
        now=now or (lambda: datetime.now(UTC)),
        dsfr_available=dsfr,
        throttle=LoginThrottle(),
        sessions=DeskSessions(),
    )
    return app


def with_desk(desk: ASGIApp, other: ASGIApp, healthz: ASGIApp | None = None) -> ASGIApp:
    """One application: `/admin` and below go to the desk, `/healthz` to `healthz` (no login),
    everything else (and the lifespan events) to `other`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        web = scope["type"] in ("http", "websocket")
        if web and is_desk_path(scope["path"]):
            await desk(scope, receive, send)
        elif web and healthz is not None and scope["path"] == HEALTHZ_PATH:
            await healthz(scope, receive, send)
        else:
            await other(scope, receive, send)

    return app
