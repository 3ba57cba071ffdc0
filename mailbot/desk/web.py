"""What every page of the admin's desk shares: its state, page rendering, the signed-in admin,
CSRF checks and French error pages."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailbot.config import Config
from mailbot.portal import Portal
from storage.db import session_scope
from workflows.calendar import french_date, french_datetime
from workflows.labels import kind_label, state_label

TEMPLATES = Path(__file__).parent / "templates"
PARIS = ZoneInfo("Europe/Paris")
CSRF_FIELD = "csrf_token"
PREFIX = "/admin"
LOGIN_PATH = f"{PREFIX}/connexion"
LOGOUT_PATH = f"{PREFIX}/deconnexion"
STATIC_PREFIX = f"{PREFIX}/static"

if TYPE_CHECKING:
    from mailbot.desk.auth import LoginThrottle
    from mailbot.desk.sessions import DeskSessions

PortalFactory = Callable[[Session], Portal]


@dataclass
class DeskState:
    """Everything the request handlers need, kept on `app.state.desk`."""

    config: Config
    engine: Engine
    portal: PortalFactory
    now: Callable[[], datetime]
    dsfr_available: bool
    throttle: LoginThrottle
    sessions: DeskSessions
    templates: jinja2.Environment = field(init=False)

    def __post_init__(self) -> None:
        self.templates = make_environment()

    @contextmanager
    def db(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session

    def is_admin(self, email: object) -> bool:
        admins = {a.strip().lower() for a in self.config.admins.addresses}
        return isinstance(email, str) and email.lower() in admins

    def admin_of(self, cookie: dict[str, Any]) -> str | None:
        """The admin a session cookie stands for: a live server-side session (not ended by a
        logout or its expiry) of an address still among `[admins] addresses`."""
        email = self.sessions.email(cookie, self.now())
        return email if email is not None and self.is_admin(email) else None


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # subjects, senders and errors come from strangers' mail
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date_fr"] = lambda v: french_date(_paris(v))
    env.filters["datetime_fr"] = lambda v: french_datetime(_paris(v))
    env.globals["state_label"] = state_label
    env.globals["kind_label"] = kind_label
    return env


def _paris(value: datetime | None) -> datetime | None:
    return value.astimezone(PARIS) if isinstance(value, datetime) else value


def state(request: Request) -> DeskState:
    desk: DeskState = request.app.state.desk
    return desk


# ------------------------------------------------------------------------------ session


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def signed_in_admin(request: Request) -> str | None:
    """The admin's address for this session, or None (a session ended server-side, or an
    address no longer among `[admins] addresses`, clears the cookie)."""
    if "session" not in request.scope:
        return None
    email = state(request).admin_of(request.session)
    if email is None and "admin" in request.session:
        request.session.clear()
    return email


def start_session(request: Request, email: str) -> None:
    """A fresh session for a signed-in admin (nothing of the anonymous one survives), known
    server-side (`DeskSessions`) so that logging out ends it for every copy of the cookie."""
    desk = state(request)
    token = desk.sessions.open(email, desk.now())
    request.session.clear()
    request.session.update({"admin": email, "sid": token, "csrf": secrets.token_urlsafe(32)})


def end_session(request: Request) -> None:
    state(request).sessions.close(request.session)
    request.session.clear()


def flash(request: Request, message: str, kind: str = "success") -> None:
    request.session["flash"] = {"message": message, "kind": kind}


def safe_next(target: str | None) -> str | None:
    """A page of the desk to go back to after signing in (never another site or path)."""
    path = (target or "").split("?", 1)[0]
    if not (path == PREFIX or path.startswith(PREFIX + "/")) or "\\" in path:
        return None
    if path.startswith(STATIC_PREFIX + "/") or path == LOGIN_PATH:
        return None
    assert target is not None
    return target if all(c.isprintable() for c in target) else None


# ------------------------------------------------------------------------------ rendering


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    desk = state(request)
    has_session = "session" in request.scope  # not for a 500 page, answered outside it
    values = {
        "request": request,
        "admin": signed_in_admin(request),
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request) if has_session else "",
        "flash": request.session.pop("flash", None) if has_session else None,
        "dsfr": desk.dsfr_available,
        "static": STATIC_PREFIX,
        "portal_url": desk.config.portal.base_url,
        "generic_address": desk.config.instance.generic_address,
        "path": request.url.path,
        **(context or {}),
    }
    html = desk.templates.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)


ERROR_TEXTS = {
    400: ("Demande incorrecte", "La demande n’a pas pu être comprise."),
    403: ("Accès refusé", "Vous n’avez pas accès à cette page."),
    404: ("Page introuvable", "La page que vous cherchez n’existe pas ou a été déplacée."),
    405: ("Méthode non autorisée", "Cette page ne peut pas être appelée de cette façon."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille permise."),
    500: ("Erreur du service", "Une erreur inattendue est survenue. Veuillez réessayer plus tard."),
}


def error_page(request: Request, status_code: int, detail: str | None = None) -> HTMLResponse:
    title, text = ERROR_TEXTS.get(status_code, ERROR_TEXTS[400])
    context = {"status": status_code, "title": title, "text": detail or text}
    return render(request, "error.html", context, status_code=status_code)


class CsrfRefused(Exception):
    """A form came without the session's CSRF token (or with another one)."""


CSRF_MESSAGE = (
    "Le formulaire n’a pas pu être vérifié : la page a peut-être expiré, ou la demande ne "
    "provient pas de ce site. Rechargez la page et recommencez."
)

FormHandler = Callable[[Request, FormData], Response]


def form_endpoint(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint: the form is read, its CSRF token checked (403 when missing or wrong),
    then `handler` runs in a worker thread (database work and password checks block)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        form = await request.form()
        expected = request.session.get("csrf")
        given = form.get(CSRF_FIELD)
        if not isinstance(expected, str) or not isinstance(given, str):
            raise CsrfRefused()
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise CsrfRefused()
        return await run_in_threadpool(handler, request, form)

    return endpoint


def form_text(form: FormData, name: str, max_chars: int = 1000) -> str:
    value = form.get(name)
    return value[:max_chars] if isinstance(value, str) else ""


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
