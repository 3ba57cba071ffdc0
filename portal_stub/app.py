"""The portal stand-in's web application (Starlette, Jinja2 templates in French, DSFR look).

`create_app(config, engine, mailer=…)` builds it; `mailbot portal` serves it with uvicorn (the
mailer, mailbot's outbox behind `mailbot.portal.PortalMailer`, is injected by mailbot). The DSFR is
served from `portal_stub/node_modules/@gouvfr/dsfr/dist` (installed by `install_assets.sh`):
nothing is loaded from another site, and the CSP says so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from argon2 import PasswordHasher
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

from mailbot.config import Config, ConfigError
from mailbot.portal import PortalMailer
from portal_stub import auth, pages
from portal_stub.security import DEFAULT_HASHER
from portal_stub.sessions import SESSION_LIFETIME
from portal_stub.web import (
    CSRF_MESSAGE,
    CsrfRefused,
    LoginRequired,
    PasswordChangeRequired,
    PortalState,
    error_page,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
DSFR_DIST = HERE / "node_modules" / "@gouvfr" / "dsfr" / "dist"
OWN_STATIC = HERE / "static"
SESSION_COOKIE = "portail_session"
SESSION_MAX_AGE = int(SESSION_LIFETIME.total_seconds())  # the cookie lives as long as its row
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """CSP and friends on every response; pages (not static files) are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

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


def session_secret(config: Config) -> str:
    value = os.environ.get(config.portal.secret_env, "")
    if len(value) < 16:
        raise ConfigError(
            f"portal.secret_env: the environment variable {config.portal.secret_env} must hold "
            "the key that signs the portal's session cookies (at least 16 characters)"
        )
    return value


def _static_mounts() -> tuple[list[Mount], bool]:
    mounts = [Mount("/static/portal", StaticFiles(directory=OWN_STATIC), name="portal-static")]
    if (DSFR_DIST / "dsfr.min.css").is_file():
        mounts.append(Mount("/static/dsfr", StaticFiles(directory=DSFR_DIST), name="dsfr"))
        return mounts, True
    log.warning(
        "DSFR assets missing under %s: pages are served without the design system; "
        "run portal_stub/install_assets.sh",
        DSFR_DIST,
    )
    return mounts, False


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_page(request, 405)
    return error_page(request, exc.status_code)


async def _login_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse("/connexion?" + urlencode({"suite": exc.target}), status_code=303)


async def _password_change_required(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/compte/mot-de-passe", status_code=303)


async def _csrf_refused(request: Request, _exc: Exception) -> Response:
    return error_page(request, 403, CSRF_MESSAGE)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("portal page %s failed", request.url.path, exc_info=exc)
    return error_page(request, 500)


def create_app(
    config: Config,
    engine: Engine,
    *,
    mailer: PortalMailer,
    now: Callable[[], datetime] | None = None,
    hasher: PasswordHasher | None = None,
) -> Starlette:
    """The web application; `mailer` sends the portal's own mail (password-reset links).
    `now` and `hasher` are for tests (a clock, cheaper argon2)."""
    mounts, dsfr = _static_mounts()
    app = Starlette(
        routes=[*auth.routes, *pages.routes, *mounts],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=session_secret(config),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                same_site="lax",
                https_only=config.portal.base_url.startswith("https://"),
            ),
        ],
        exception_handlers={
            HTTPException: _http_error,
            LoginRequired: _login_required,
            PasswordChangeRequired: _password_change_required,
            CsrfRefused: _csrf_refused,
            Exception: _server_error,
        },
    )
    app.state.portal = PortalState(
        config=config,
        engine=engine,
        hasher=hasher or DEFAULT_HASHER,
        now=now or (lambda: datetime.now(UTC)),
        mailer=mailer,
        dsfr_available=dsfr,
    )
    return app
