"""Signing in to the desk and out of it.

An admin is a person whose address is in `[admins] addresses` AND whose password passes the
portal's login check (`Portal.check_login`, the portal boundary): the desk keeps no password.
The check runs for every identifier typed, admin or not, and a refusal says the same thing in
both cases. Wrong attempts are counted per identifier typed and per client address, with the
portal's rules (`workflows.login_throttle`: progressive delays per identifier, never a lock the
owner cannot get past; a block per address for a machine trying many), in this process's
memory: the desk runs in one process beside the daemon. Sessions are server-side too
(`mailbot.desk.sessions`): logging out ends the session for every copy of the cookie.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailbot.desk.web import (
    LOGIN_PATH,
    LOGOUT_PATH,
    PARIS,
    PREFIX,
    end_session,
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
from workflows.login_throttle import (
    ThrottleState,
    address_failed,
    identifier_failed,
    refused_until,
    seconds_left,
)

BAD_CREDENTIALS = (
    "Identifiant ou mot de passe incorrect, ou compte sans accès au bureau des administrateurs."
)
ADDRESS_KEY = "ip:"


@dataclass(frozen=True)
class Wait:
    until: datetime
    by_address: bool


class LoginThrottle:
    """Failed sign-ins per identifier typed and per client address (thread-safe: checks run in
    worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, ThrottleState] = {}

    def refusal(self, identifier: str, address: str, now: datetime) -> Wait | None:
        """The wait that refuses this attempt unchecked, if any."""
        with self._lock:
            if until := refused_until(self._states.get(ADDRESS_KEY + address), now):
                return Wait(until, by_address=True)
            if until := refused_until(self._states.get(identifier), now):
                return Wait(until, by_address=False)
            return None

    def fail(self, identifier: str, address: str, now: datetime) -> Wait | None:
        """Count a failure on both counters; the end of the wait it starts, if any."""
        with self._lock:
            key = ADDRESS_KEY + address
            self._states[identifier] = identifier_failed(self._states.get(identifier), now)
            self._states[key] = address_failed(self._states.get(key), now)
        return self.refusal(identifier, address, now)

    def succeed(self, identifier: str) -> None:
        with self._lock:
            self._states.pop(identifier, None)


def _refused(request: Request, wait: Wait, identifier: str, now: datetime) -> Response:
    seconds = seconds_left(wait.until, now)
    if wait.by_address:
        message = (
            "Trop de tentatives de connexion ont échoué depuis votre réseau\u00a0: réessayez "
            f"après {wait.until.astimezone(PARIS).strftime(HOUR_FORMAT)}."
        )
    else:
        pause = "1\u00a0seconde" if seconds == 1 else f"{seconds}\u00a0secondes"
        message = (
            "Trop de tentatives de connexion ont échoué pour cet identifiant\u00a0: patientez "
            f"{pause} avant de réessayer."
        )
    response = _login_form(request, message, identifier, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


HOUR_FORMAT = "%H\u00a0h\u00a0%M"


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
    address = request.client.host if request.client else "inconnue"
    now = desk.now()
    if wait := desk.throttle.refusal(identifier, address, now):
        return _refused(request, wait, identifier, now)
    with desk.db() as session:
        # Always asked, so that the answer's time does not tell who is an admin.
        password_ok = bool(identifier) and desk.portal(session).check_login(identifier, password)
    if not (password_ok and desk.is_admin(identifier)):
        if wait := desk.throttle.fail(identifier, address, now):
            return _refused(request, wait, identifier, now)
        return _login_form(request, BAD_CREDENTIALS, identifier, 400)
    desk.throttle.succeed(identifier)
    start_session(request, identifier)
    return redirect(safe_next(form_text(form, "suite")) or PREFIX)


def logout(request: Request, _form: FormData) -> Response:
    end_session(request)
    flash(request, "Vous êtes déconnecté du bureau des administrateurs.", "info")
    return redirect(LOGIN_PATH)


routes = [
    Route(LOGIN_PATH, login_page, methods=["GET"]),
    Route(LOGIN_PATH, form_endpoint(login), methods=["POST"]),
    Route(LOGOUT_PATH, form_endpoint(logout), methods=["POST"]),
]
