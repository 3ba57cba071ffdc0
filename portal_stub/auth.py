"""Signing in and out, the first-login password change, and « mot de passe oublié ».

- Wrong passwords are counted per identifier typed (whether an account has it or not) and per
  client address (`portal_stub.throttle`, rules in `workflows.login_throttle`): progressive
  delays per identifier, never a lock the owner cannot get past; a block per address for a
  machine that tries many. An unknown identifier costs an argon2 verification too and gets the
  same answers, so the login and reset pages never tell whether an address has an account.
- Sessions are server-side (`portal_stub.sessions`): logout ends the session for every copy of
  the cookie, a password change or reset ends every other session of the account.
- A temporary password opens the account once, until its expiry; the person must then choose
  their own password, strong enough (`portal_stub.passwords`: zxcvbn score 3 at least, the
  identifier, names and portal's name counted as known words) and not the temporary one.
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

from portal_stub.models import PortalAccount, PortalResetToken
from portal_stub.passwords import MIN_PASSWORD_LENGTH, password_rule
from portal_stub.security import new_token, password_problem, token_hash, verify_password
from portal_stub.sessions import close_all_sessions
from portal_stub.throttle import Refusal, client_address, count_failure, forgive, refusal
from portal_stub.web import (
    PARIS,
    current_account,
    end_session,
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

RESET_MINUTES = 60
MAX_RESETS_PER_HOUR = 3
BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
RESET_SENT = (
    "Si un compte correspond à cette adresse, un courriel contenant un lien de "
    "réinitialisation vient de lui être envoyé. Ce lien est valable une heure et ne peut "
    "servir qu’une fois. Pensez à vérifier votre dossier de courriers indésirables."
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
    address = client_address(request)
    now = portal.now()
    with portal.db() as session:
        if waiting := refusal(session, identifier, address, now):
            return _refused(request, waiting, identifier, now)
        account = session.exec(
            select(PortalAccount).where(PortalAccount.email == identifier)
        ).first()
        if not verify_password(portal.hasher, account.password_hash if account else None, password):
            if waiting := count_failure(session, identifier, address, now):
                return _refused(request, waiting, identifier, now, BAD_CREDENTIALS + " ")
            return _login_form(request, BAD_CREDENTIALS, identifier, 400)
        assert account is not None
        if account.disabled_at is not None:  # only said to whoever knows the password
            return _login_form(request, _disabled_message(request), identifier, 403)
        expiry = account.temp_password_expires_at
        if account.must_change_password and expiry is not None and expiry <= now:
            return _login_form(request, _expired_message(request, expiry), identifier, 400)
        forgive(session, identifier)
        account.last_login_at = now
        if portal.hasher.check_needs_rehash(account.password_hash):
            account.password_hash = portal.hasher.hash(password)
        session.add(account)
        start_session(request, session, account)
        forced = account.must_change_password
    if forced:
        return redirect("/compte/mot-de-passe")
    return redirect(safe_next(form_text(form, "suite")) or "/espaces/accueil")


def _refused(
    request: Request, waiting: Refusal, identifier: str, now: datetime, prefix: str = ""
) -> Response:
    response = _login_form(request, prefix + waiting.message, identifier, 429)
    response.headers["Retry-After"] = waiting.retry_after(now)
    return response


def _disabled_message(request: Request) -> str:
    address = state(request).config.instance.generic_address
    return f"Ce compte a été désactivé par l’administration du portail. Écrivez à {address}."


def _expired_message(request: Request, expiry: datetime) -> str:
    address = state(request).config.instance.generic_address
    return (
        f"Votre mot de passe provisoire a expiré le {french_date(expiry.astimezone(PARIS))}. "
        "Utilisez « Mot de passe oublié ? » pour recevoir un lien qui vous permettra de "
        f"choisir votre mot de passe, ou écrivez à {address}."
    )


def logout(request: Request, _form: FormData) -> Response:
    with state(request).db() as session:
        end_session(request, session)
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
    context = _rule_context(error)
    return render(
        request, "change_password.html", context, account=account, status_code=status_code
    )


def _rule_context(error: str | None) -> dict[str, Any]:
    return {"error": error, "min_length": MIN_PASSWORD_LENGTH, "password_rule": password_rule()}


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
        start_session(request, session, account)  # every other session has ended
    flash(request, "Votre mot de passe a été enregistré.")
    return redirect("/espaces/accueil")


def _new_password_problem(
    portal: Any, account: PortalAccount, new: str, confirm: str
) -> str | None:
    if new != confirm:
        return "Les deux mots de passe saisis ne sont pas identiques."
    names = (account.first_name, account.last_name, portal.config.instance.name)
    return password_problem(portal.hasher, new, account.email, account.password_hash, names)


def _set_password(session: Session, portal: Any, account: PortalAccount, password: str) -> None:
    account.password_hash = portal.hasher.hash(password)
    account.must_change_password = False
    account.temp_password_expires_at = None
    account.password_changed_at = portal.now()
    account.session_epoch += 1
    session.add(account)
    assert account.id is not None
    close_all_sessions(session, account.id)  # every session of this account ends
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
        disabled = account is not None and account.disabled_at is not None
        if account is not None and not disabled and _may_send_reset(session, account, portal.now()):
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
    return render(request, "reset.html", _rule_context(None))


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
            return render(request, "reset.html", _rule_context(problem), status_code=400)
        _set_password(session, portal, account, form_text(form, "nouveau"))
        for other in session.exec(
            select(PortalResetToken).where(
                PortalResetToken.account_id == account.id,
                col(PortalResetToken.used_at).is_(None),
            )
        ).all():
            other.used_at = now  # this link and any other pending one are spent
            session.add(other)
        forgive(session, account.email)  # the link proves the owner: no wait left
        end_session(request, session)
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
