"""What every page of the portal's web application shares: the application state, page
rendering, the session (a signed cookie holding a server-side session's token, see
`portal_stub.sessions`), the signed-in person, CSRF checks and French error pages.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailbot.config import Config
from mailbot.portal import PortalMailer
from portal_stub.models import PortalAccount
from portal_stub.service import readable_spaces
from portal_stub.sessions import close_session, open_session, session_account
from portal_stub.spaces import FREQUENCY_LABELS, SPACE_INFO
from storage.db import session_scope
from workflows.calendar import french_date, french_datetime
from workflows.core import SPACES

TEMPLATES = Path(__file__).parent / "templates"
PARIS = ZoneInfo("Europe/Paris")
CSRF_FIELD = "csrf_token"


@dataclass
class PortalState:
    """Everything the request handlers need, kept on `app.state.portal`."""

    config: Config
    engine: Engine
    hasher: PasswordHasher
    now: Callable[[], datetime]
    mailer: PortalMailer  # the portal's own mail, through mailbot's outbox
    dsfr_available: bool
    templates: jinja2.Environment = field(init=False)

    def __post_init__(self) -> None:
        self.templates = make_environment()

    @contextmanager
    def db(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every value from people (questions, names, searches) is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date_fr"] = lambda v: french_date(_paris(v))
    env.filters["datetime_fr"] = lambda v: french_datetime(_paris(v))
    env.filters["size_fr"] = size_fr
    env.filters["paragraphs"] = paragraphs
    return env


def _paris(value: datetime | None) -> datetime | None:
    return value.astimezone(PARIS) if isinstance(value, datetime) else value


def size_fr(size: int) -> str:
    if size < 1024:
        return f"{size} octets"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} Ko"
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")


def paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines (each shown as a paragraph, line breaks kept by CSS)."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    return [b for b in blocks if b]


def state(request: Request) -> PortalState:
    portal: PortalState = request.app.state.portal
    return portal


# ------------------------------------------------------------------------------ session


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def start_session(request: Request, db: Session, account: PortalAccount) -> None:
    """A fresh session for a signed-in person (no value of the anonymous one survives): a new
    `PortalSession` row, whose token the cookie carries."""
    assert account.id is not None
    token = open_session(db, account.id, state(request).now())
    request.session.clear()
    request.session.update({"sid": token, "csrf": secrets.token_urlsafe(32)})


def end_session(request: Request, db: Session) -> None:
    """Log out: the server-side session is deleted, whatever copies of the cookie exist."""
    close_session(db, request.session.get("sid"))
    request.session.clear()


def flash(request: Request, message: str, kind: str = "success") -> None:
    request.session["flash"] = {"message": message, "kind": kind}


def current_account(request: Request, session: Session) -> PortalAccount | None:
    """The signed-in person, or None: the cookie's session must still exist server-side (not
    ended by a logout, a password change or its expiry)."""
    uid = session_account(session, request.session.get("sid"), state(request).now())
    account = session.get(PortalAccount, uid) if uid is not None else None
    if account is None:
        request.session.pop("sid", None)
    return account


class LoginRequired(Exception):
    """Raised by a handler when the page needs a signed-in person; answered with a redirect."""

    def __init__(self, target: str) -> None:
        self.target = target


class PasswordChangeRequired(Exception):
    """The person signed in with a temporary password: choosing their own comes first."""


def require_account(
    request: Request, session: Session, *, allow_forced: bool = False
) -> PortalAccount:
    account = current_account(request, session)
    if account is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    if account.must_change_password and not allow_forced:
        raise PasswordChangeRequired()
    return account


def require_space(account: PortalAccount, space: str) -> None:
    if space not in SPACES:
        raise HTTPException(404)
    if space not in readable_spaces(account):
        raise HTTPException(403)


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after signing in (never another site: `//host`, `/\\host`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target if all(c.isprintable() for c in target) else None


# ------------------------------------------------------------------------------ rendering


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    account: PortalAccount | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    portal = state(request)
    spaces = readable_spaces(account) if account and not account.must_change_password else []
    has_session = "session" in request.scope  # not for a 500 page, answered outside it
    values = {
        "request": request,
        "account": account,
        "nav_spaces": [SPACE_INFO[s] for s in spaces],
        "space_info": SPACE_INFO,
        "frequency_labels": FREQUENCY_LABELS,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request) if has_session else "",
        "flash": request.session.pop("flash", None) if has_session else None,
        "dsfr": portal.dsfr_available,
        "instance_name": portal.config.instance.name,
        "generic_address": portal.config.instance.generic_address,
        "cerema_url": portal.config.questions.cerema_url,
        "invitation_days": portal.config.timers.invitation_expiry_days,
        "path": request.url.path,
        **(context or {}),
    }
    html = portal.templates.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)


ERROR_TEXTS = {
    400: ("Demande incorrecte", "La demande n’a pas pu être comprise."),
    403: ("Accès refusé", "Vous n’avez pas accès à cette page avec votre compte."),
    404: ("Page introuvable", "La page que vous cherchez n’existe pas ou a été déplacée."),
    405: ("Méthode non autorisée", "Cette page ne peut pas être appelée de cette façon."),
    410: ("Réponse retirée", "Cette question-réponse a été retirée du portail."),
    500: ("Erreur du service", "Une erreur inattendue est survenue. Veuillez réessayer plus tard."),
}


def error_page(request: Request, status_code: int, detail: str | None = None) -> HTMLResponse:
    title, text = ERROR_TEXTS.get(status_code, ERROR_TEXTS[400])
    account = None
    if status_code != 500 and "session" in request.scope:
        with state(request).db() as session:
            account = current_account(request, session)
    return render(
        request,
        "error.html",
        {"status": status_code, "title": title, "text": detail or text},
        account=account,
        status_code=status_code,
    )


class CsrfRefused(Exception):
    """A form came without the session's CSRF token (or with another one)."""


CSRF_MESSAGE = (
    "Le formulaire n’a pas pu être vérifié : la page a peut-être expiré, ou la demande ne "
    "provient pas de ce site. Rechargez la page et recommencez."
)

FormHandler = Callable[[Request, FormData], Response]


def form_endpoint(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint: the form is read, its CSRF token checked (403 when missing or wrong),
    then `handler` runs in a worker thread (database work and argon2 are blocking)."""

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
