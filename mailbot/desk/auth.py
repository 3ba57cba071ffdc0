"""Signing in to the desk and out of it.

An admin is a person whose address is in `[admins] addresses` AND whose password passes the
portal's login check (`Portal.check_login`, the portal boundary): the desk keeps no password.
The check runs for every identifier typed, admin or not, and a refusal says the same thing in
both cases. Wrong attempts are counted per identifier typed: `MAX_FAILURES` within
`LOCK_MINUTES` lock that identifier for `LOCK_MINUTES` (in this process's memory: the desk
runs in one process beside the daemon).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailbot.desk.web import (
    LOGIN_PATH,
    LOGOUT_PATH,
    PARIS,
    PREFIX,
    flash,
    form_endpoint,
    form_text,
    redirect,
    render,
    safe_next,
    signed_in_admin,
    start_session,
    state,
)

MAX_FAILURES = 5
LOCK_MINUTES = 15
BAD_CREDENTIALS = (
    "Identifiant ou mot de passe incorrect, ou compte sans accès au bureau des administrateurs."
)


@dataclass
class _Failures:
    count: int = 0
    last_at: datetime | None = None
    locked_until: datetime | None = None


class LoginThrottle:
    """Failed sign-ins per identifier typed (thread-safe: checks run in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_identifier: dict[str, _Failures] = {}

    def locked_until(self, identifier: str, now: datetime) -> datetime | None:
        with self._lock:
            entry = self._by_identifier.get(identifier)
            if entry and entry.locked_until and entry.locked_until > now:
                return entry.locked_until
            return None

    def fail(self, identifier: str, now: datetime) -> datetime | None:
        """Count a failure; the end of the lock when this failure starts one."""
        with self._lock:
            entry = self._by_identifier.setdefault(identifier, _Failures())
            if entry.last_at is None or entry.last_at < now - timedelta(minutes=LOCK_MINUTES):
                entry.count = 0  # old failures are forgiven
            entry.count += 1
            entry.last_at = now
            if entry.count < MAX_FAILURES:
                return None
            entry.count, entry.locked_until = 0, now + timedelta(minutes=LOCK_MINUTES)
            return entry.locked_until

    def succeed(self, identifier: str) -> None:
        with self._lock:
            self._by_identifier.pop(identifier, None)


def _lock_message(until: datetime) -> str:
    return (
        "Trop de tentatives de connexion ont échoué : cet identifiant est bloqué pendant "
        f"{LOCK_MINUTES} minutes. Réessayez après "
        f"{until.astimezone(PARIS).strftime('%H h %M')}."
    )


def login_page(request: Request) -> Response:
    if signed_in_admin(request) is not None:
        return redirect(PREFIX)
    return _login_form(request)


def _login_form(
    request: Request, error: str | None = None, identifier: str = "", status_code: int = 200
) -> Response:
    context = {
        "error": error,
        "identifier": identifier,
        "next": safe_next(request.query_params.get("suite")) or "",
    }
    return render(request, "login.html", context, status_code=status_code)


def login(request: Request, form: FormData) -> Response:
    desk = state(request)
    identifier = form_text(form, "identifiant", 320).strip().lower()
    password = form_text(form, "mot_de_passe", 1000)
    now = desk.now()
    if until := desk.throttle.locked_until(identifier, now):
        return _login_form(request, _lock_message(until), identifier, 429)
    with desk.db() as session:
        # Always asked, so that the answer's time does not tell who is an admin.
        password_ok = bool(identifier) and desk.portal(session).check_login(identifier, password)
    if not (password_ok and desk.is_admin(identifier)):
        if until := desk.throttle.fail(identifier, now):
            return _login_form(request, _lock_message(until), identifier, 429)
        return _login_form(request, BAD_CREDENTIALS, identifier, 400)
    desk.throttle.succeed(identifier)
    start_session(request, identifier)
    return redirect(safe_next(form_text(form, "suite")) or PREFIX)


def logout(request: Request, _form: FormData) -> Response:
    request.session.clear()
    flash(request, "Vous êtes déconnecté du bureau des administrateurs.", "info")
    return redirect(LOGIN_PATH)


routes = [
    Route(LOGIN_PATH, login_page, methods=["GET"]),
    Route(LOGIN_PATH, form_endpoint(login), methods=["POST"]),
    Route(LOGOUT_PATH, form_endpoint(logout), methods=["POST"]),
]
