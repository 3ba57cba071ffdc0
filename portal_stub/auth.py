"""Signing in and out, the first-login password change, and « mot de passe oublié ».

- Wrong passwords are counted per identifier typed, whether an account has it or not:
  `MAX_FAILURES` in a row lock that identifier for `LOCK_MINUTES`, and the page says so. An
  unknown identifier costs an argon2 verification too and gets the same answers, so the
  login and reset pages never tell whether an address has an account.
- A temporary password opens the account once, until its expiry; the person must then choose
  their own password (`MIN_PASSWORD_LENGTH` characters at least, neither the identifier nor the
  temporary password).
- A reset link is single use, valid `RESET_MINUTES`; only the token's SHA-256 is stored. The
  mail goes through the `PortalMailer` the application was given (mailbot's outbox), once the
  token is committed: a failure in between leaves an unused token, never a link that does not
  open; the mail's key is derived from the token, so queuing it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal_stub.models import PortalAccount, PortalLoginThrottle, PortalResetToken
from portal_stub.security import (
    MIN_PASSWORD_LENGTH,
    new_token,
    password_problem,
    token_hash,
    verify_password,
)
from portal_stub.web import (
    PARIS,
    current_account,
    flash,
    form_endpoint,
    form_text,
    redirect,
    render,
    require_account,
    safe_next,
    start_session,
    state,
)
from workflows.calendar import french_date

MAX_FAILURES = 5
LOCK_MINUTES = 15
RESET_MINUTES = 60
MAX_RESETS_PER_HOUR = 3
BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
RESET_SENT = (
    "Si un compte correspond à cette adresse, un courriel contenant un lien de "
    "réinitialisation vient de lui être envoyé. Ce lien est valable une heure et ne peut "
    "servir qu’une fois. Pensez à vérifier votre dossier de courriers indésirables."
)


def _lock_message(until: datetime) -> str:
    return (
        f"Trop de tentatives de connexion ont échoué : cet identifiant est bloqué pendant "
        f"{LOCK_MINUTES} minutes. Réessayez après {until.astimezone(PARIS).strftime('%H h %M')}, "
        "ou utilisez « Mot de passe oublié ? »."
    )


# --------------------------------------------------------------------------------- login


def login_page(request: Request) -> Response:
    with state(request).db() as session:
        account = current_account(request, session)
    if account is not None and not account.must_change_password:
        return redirect("/espaces/accueil")
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
    portal = state(request)
    identifier = form_text(form, "identifiant", 320).strip().lower()
    password = form_text(form, "mot_de_passe", 1000)
    now = portal.now()
    with portal.db() as session:
        throttle = session.get(PortalLoginThrottle, identifier)
        if throttle and throttle.locked_until and throttle.locked_until > now:
            return _login_form(request, _lock_message(throttle.locked_until), identifier, 429)
        account = session.exec(
            select(PortalAccount).where(PortalAccount.email == identifier)
        ).first()
        if not verify_password(portal.hasher, account.password_hash if account else None, password):
            locked_until = _count_failure(session, identifier, throttle, now)
            if locked_until:
                return _login_form(request, _lock_message(locked_until), identifier, 429)
            return _login_form(request, BAD_CREDENTIALS, identifier, 400)
        assert account is not None
        expiry = account.temp_password_expires_at
        if account.must_change_password and expiry is not None and expiry <= now:
            return _login_form(request, _expired_message(request, expiry), identifier, 400)
        if throttle is not None:
            session.delete(throttle)
        account.last_login_at = now
        if portal.hasher.check_needs_rehash(account.password_hash):
            account.password_hash = portal.hasher.hash(password)
        session.add(account)
        start_session(request, account)
        forced = account.must_change_password
    if forced:
        return redirect("/compte/mot-de-passe")
    return redirect(safe_next(form_text(form, "suite")) or "/espaces/accueil")


def _count_failure(
    session: Session, identifier: str, throttle: PortalLoginThrottle | None, now: datetime
) -> datetime | None:
    """Count a wrong password; the end of the lock when this failure starts one."""
    if throttle is None:
        throttle = PortalLoginThrottle(identifier=identifier)
    window_start = now - timedelta(minutes=LOCK_MINUTES)
    if throttle.last_failure_at is None or throttle.last_failure_at < window_start:
        throttle.failures = 0  # old failures are forgiven
    throttle.failures += 1
    throttle.last_failure_at = now
    locked_until = None
    if throttle.failures >= MAX_FAILURES:
        locked_until = now + timedelta(minutes=LOCK_MINUTES)
        throttle.locked_until, throttle.failures = locked_until, 0
    session.add(throttle)
    return locked_until


def _expired_message(request: Request, expiry: datetime) -> str:
    address = state(request).config.instance.generic_address
    return (
        f"Votre mot de passe provisoire a expiré le {french_date(expiry.astimezone(PARIS))}. "
        "Utilisez « Mot de passe oublié ? » pour recevoir un lien qui vous permettra de "
        f"choisir votre mot de passe, ou écrivez à {address}."
    )


def logout(request: Request, _form: FormData) -> Response:
    request.session.clear()
    flash(request, "Votre session est fermée. À bientôt sur le portail.")
    return redirect("/connexion")


# ------------------------------------------------------------------------ password change


def change_password_page(request: Request) -> Response:
    with state(request).db() as session:
        account = require_account(request, session, allow_forced=True)
    return _change_form(request, account)


def _change_form(
    request: Request, account: PortalAccount, error: str | None = None, status_code: int = 200
) -> Response:
    context: dict[str, Any] = {"error": error, "min_length": MIN_PASSWORD_LENGTH}
    return render(
        request, "change_password.html", context, account=account, status_code=status_code
    )


def change_password(request: Request, form: FormData) -> Response:
    portal = state(request)
    new, confirm = form_text(form, "nouveau"), form_text(form, "confirmation")
    with portal.db() as session:
        account = require_account(request, session, allow_forced=True)
        # The forced change follows a login made with the temporary password in this very
        # session; a voluntary change asks for the current password.
        if not account.must_change_password and not verify_password(
            portal.hasher, account.password_hash, form_text(form, "actuel")
        ):
            return _change_form(request, account, "Le mot de passe actuel est incorrect.", 400)
        problem = _new_password_problem(portal, account, new, confirm)
        if problem:
            return _change_form(request, account, problem, 400)
        _set_password(session, portal, account, new)
        start_session(request, account)
    flash(request, "Votre mot de passe a été enregistré.")
    return redirect("/espaces/accueil")


def _new_password_problem(
    portal: Any, account: PortalAccount, new: str, confirm: str
) -> str | None:
    if new != confirm:
        return "Les deux mots de passe saisis ne sont pas identiques."
    return password_problem(portal.hasher, new, account.email, account.password_hash)


def _set_password(session: Session, portal: Any, account: PortalAccount, password: str) -> None:
    account.password_hash = portal.hasher.hash(password)
    account.must_change_password = False
    account.temp_password_expires_at = None
    account.password_changed_at = portal.now()
    account.session_epoch += 1  # every other session of this account ends
    session.add(account)
    session.flush()


# ------------------------------------------------------------------------ forgotten password


def forgot_page(request: Request) -> Response:
    return render(request, "forgot.html", {"error": None})


def forgot(request: Request, form: FormData) -> Response:
    portal = state(request)
    identifier = form_text(form, "identifiant", 320).strip().lower()
    if "@" not in identifier:
        context = {"error": "Saisissez l’adresse électronique qui vous sert d’identifiant."}
        return render(request, "forgot.html", context, status_code=400)
    mail: ResetMail | None = None
    with portal.db() as session:
        account = session.exec(
            select(PortalAccount).where(PortalAccount.email == identifier)
        ).first()
        if account is not None and _may_send_reset(session, account, portal.now()):
            mail = _new_reset(session, request, account)
    if mail is not None:  # the token is committed: the link opens
        portal.mailer.queue(
            "portal_password_reset",
            [mail.to],
            mail.context,
            mail.key,
            sensitive=True,  # the stored copy is redacted once sent: the link opens the account
        )
    flash(request, RESET_SENT, "info")
    return redirect("/connexion")


def _may_send_reset(session: Session, account: PortalAccount, now: datetime) -> bool:
    """At most `MAX_RESETS_PER_HOUR` links an hour: the form cannot flood a mailbox."""
    recent = session.exec(
        select(func.count())
        .select_from(PortalResetToken)
        .where(
            PortalResetToken.account_id == account.id,
            PortalResetToken.created_at > now - timedelta(hours=1),
        )
    ).one()
    return int(recent) < MAX_RESETS_PER_HOUR


@dataclass(frozen=True)
class ResetMail:
    to: str
    context: dict[str, Any]
    key: str


def _new_reset(session: Session, request: Request, account: PortalAccount) -> ResetMail:
    """A reset token for `account` (added to `session`) and the mail that carries its link."""
    portal = state(request)
    now = portal.now()
    token, digest = new_token()
    assert account.id is not None
    session.add(
        PortalResetToken(
            account_id=account.id,
            token_hash=digest,
            created_at=now,
            expires_at=now + timedelta(minutes=RESET_MINUTES),
        )
    )
    return ResetMail(
        to=account.email,
        context={
            "first_name": account.first_name,
            "last_name": account.last_name,
            "reset_url": f"{portal.config.portal.base_url}/mot-de-passe/reinitialiser/{token}",
            "valid_minutes": RESET_MINUTES,
        },
        key=f"portal-reset:{digest[:32]}",
    )


def _valid_token(session: Session, token: str, now: datetime) -> PortalResetToken | None:
    row = session.exec(
        select(PortalResetToken).where(PortalResetToken.token_hash == token_hash(token))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def _invalid_link(request: Request) -> Response:
    return render(request, "reset_invalid.html", status_code=400)


def reset_page(request: Request) -> Response:
    portal = state(request)
    with portal.db() as session:
        if _valid_token(session, request.path_params["token"], portal.now()) is None:
            return _invalid_link(request)
    return render(request, "reset.html", {"error": None, "min_length": MIN_PASSWORD_LENGTH})


def reset(request: Request, form: FormData) -> Response:
    portal = state(request)
    now = portal.now()
    with portal.db() as session:
        row = _valid_token(session, request.path_params["token"], now)
        if row is None:
            return _invalid_link(request)
        account = session.get(PortalAccount, row.account_id)
        assert account is not None
        problem = _new_password_problem(
            portal, account, form_text(form, "nouveau"), form_text(form, "confirmation")
        )
        if problem:
            context = {"error": problem, "min_length": MIN_PASSWORD_LENGTH}
            return render(request, "reset.html", context, status_code=400)
        _set_password(session, portal, account, form_text(form, "nouveau"))
        for other in session.exec(
            select(PortalResetToken).where(
                PortalResetToken.account_id == account.id,
                col(PortalResetToken.used_at).is_(None),
            )
        ).all():
            other.used_at = now  # this link and any other pending one are spent
            session.add(other)
        throttle = session.get(PortalLoginThrottle, account.email)
        if throttle is not None:
            session.delete(throttle)
    request.session.clear()
    flash(request, "Votre mot de passe a été enregistré. Vous pouvez vous connecter.")
    return redirect("/connexion")


routes = [
    Route("/connexion", login_page, methods=["GET"]),
    Route("/connexion", form_endpoint(login), methods=["POST"]),
    Route("/deconnexion", form_endpoint(logout), methods=["POST"]),
    Route("/compte/mot-de-passe", change_password_page, methods=["GET"]),
    Route("/compte/mot-de-passe", form_endpoint(change_password), methods=["POST"]),
    Route("/mot-de-passe-oublie", forgot_page, methods=["GET"]),
    Route("/mot-de-passe-oublie", form_endpoint(forgot), methods=["POST"]),
    Route("/mot-de-passe/reinitialiser/{token}", reset_page, methods=["GET"]),
    Route("/mot-de-passe/reinitialiser/{token}", form_endpoint(reset), methods=["POST"]),
]
