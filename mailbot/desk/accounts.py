"""The desk's « Comptes » pages: the portal's accounts with a search, the last login and the
state, and on each account's page the actions (disable, enable, spaces, reset: the invitation
mail again with a new temporary password). Everything goes through `Portal`; every action is
a CSRF-checked form carrying an idempotency key, and is logged with the admin (`by=`)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailbot.desk.audit import action_key, log_admin_action
from mailbot.desk.web import (
    PREFIX,
    DeskState,
    flash,
    form_endpoint,
    form_text,
    redirect,
    render,
    signed_in_admin,
    state,
)
from mailbot.portal import AccountInfo, Portal, UnknownAccount
from workflows.casework import SPACE_LABELS, spaces_label
from workflows.core import SPACES

ACCOUNTS = f"{PREFIX}/comptes"
KEY_FIELD = "cle"
_KEY = re.compile(r"^desk:[A-Za-z0-9_-]{16,40}$")
MAX_LISTED = 200


def account_state(account: AccountInfo) -> tuple[str, str]:
    """(French label, DSFR badge kind)."""
    if account.disabled_at is not None:
        return "Désactivé", "error"
    if account.invitation_pending:
        return "Invitation en attente", "new"
    return "Actif", "success"


def account_url(email: str) -> str:
    return f"{ACCOUNTS}/{quote(email, safe='@')}"


def _portal(desk: DeskState) -> Portal:
    with desk.db() as session:
        return desk.portal(session)


def form_key(form: FormData) -> str:
    """The form's idempotency key (a fresh one if it is missing or malformed)."""
    given = form_text(form, KEY_FIELD, 60)
    return given if _KEY.match(given) else action_key("desk")


def accounts_page(request: Request) -> Response:
    desk = state(request)
    query = request.query_params.get("q", "")[:200].strip()
    accounts = _portal(desk).list_accounts(query, MAX_LISTED + 1)
    rows = [{"a": a, "state": account_state(a), "url": account_url(a.email)} for a in accounts]
    context = {
        "query": query,
        "rows": rows[:MAX_LISTED],
        "more": len(rows) > MAX_LISTED,
        "spaces_label": spaces_label,
    }
    return render(request, "accounts.html", context)


def account_page(request: Request) -> Response:
    desk = state(request)
    account = _portal(desk).account(request.path_params["email"])
    if account is None:
        raise HTTPException(404)
    context = {
        "a": account,
        "state": account_state(account),
        "url": account_url(account.email),
        "spaces": [(s, SPACE_LABELS[s]) for s in SPACES],
        "spaces_label": spaces_label,
        "key_field": KEY_FIELD,
        "new_key": lambda: action_key("desk"),
        "expiry_days": desk.config.timers.invitation_expiry_days,
    }
    return render(request, "account.html", context)


def _act(request: Request, form: FormData, action: str) -> Response:
    desk = state(request)
    admin = signed_in_admin(request) or "?"
    email = request.path_params["email"].strip().lower()
    if action == "disable" and email == admin:  # the desk signs in with that account
        flash(request, "Vous ne pouvez pas désactiver votre propre compte.", "error")
        return redirect(account_url(email))
    portal = _portal(desk)
    key = form_key(form)
    try:
        if action == "disable":
            portal.set_account_disabled(email, True, key, admin)
            message = f"Le compte {email} est désactivé : il ne peut plus se connecter."
        elif action == "enable":
            portal.set_account_disabled(email, False, key, admin)
            message = f"Le compte {email} est de nouveau actif."
        elif action == "spaces":
            chosen = [s for s in SPACES if form.get(f"espace_{s}") == "oui"]
            info = portal.set_account_spaces(email, chosen, key, admin)
            message = f"Espaces de {email} : {spaces_label(info.spaces)}."
        else:
            expires = desk.now() + timedelta(days=desk.config.timers.invitation_expiry_days)
            portal.reset_account(email, expires, key, admin)
            message = (
                f"Une nouvelle invitation, avec un nouveau mot de passe provisoire, part vers "
                f"{email}. L’ancien mot de passe ne fonctionne plus."
            )
    except UnknownAccount:
        raise HTTPException(404) from None
    except ValueError:  # a key already used for another action (a stale form)
        flash(request, "Ce formulaire a déjà servi : rechargez la page et recommencez.", "error")
        return redirect(account_url(email))
    fields = {"account": email}
    if action == "spaces":
        fields["spaces"] = ",".join(chosen)
    log_admin_action(desk.config, f"account_{action}", admin, **fields)
    flash(request, message)
    return redirect(account_url(email))


def disable(request: Request, form: FormData) -> Response:
    return _act(request, form, "disable")


def enable(request: Request, form: FormData) -> Response:
    return _act(request, form, "enable")


def change_spaces(request: Request, form: FormData) -> Response:
    return _act(request, form, "spaces")


def reset(request: Request, form: FormData) -> Response:
    return _act(request, form, "reset")


routes = [
    Route(ACCOUNTS, accounts_page, methods=["GET"]),
    Route(f"{ACCOUNTS}/{{email}}", account_page, methods=["GET"]),
    Route(f"{ACCOUNTS}/{{email}}/desactiver", form_endpoint(disable), methods=["POST"]),
    Route(f"{ACCOUNTS}/{{email}}/activer", form_endpoint(enable), methods=["POST"]),
    Route(f"{ACCOUNTS}/{{email}}/espaces", form_endpoint(change_spaces), methods=["POST"]),
    Route(f"{ACCOUNTS}/{{email}}/reinitialiser", form_endpoint(reset), methods=["POST"]),
]
