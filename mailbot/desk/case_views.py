"""The desk's « Dossiers »: the list (filters, search), one case's page (timeline, annex,
people and accounts) and its actions, each a CSRF-checked form that goes through
`mailbot.desk.case_actions` (the same path as `mailbot cases …`) as the signed-in admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailbot.desk.case_actions import ActionRefused, CaseActions, Outcome, parse_people
from mailbot.desk.casebook import Filters, case_detail, list_cases
from mailbot.desk.web import (
    PREFIX,
    flash,
    form_endpoint,
    form_text,
    redirect,
    render,
    signed_in_admin,
    state,
)
from mailbot.wflog import WorkflowLog
from workflows.core import SPACES
from workflows.labels import KIND_LABELS, state_choices

CASES = f"{PREFIX}/dossiers"

# The desk's French paths → the actions of `case_actions`, with what the flash says.
ACTIONS: dict[str, tuple[str, str]] = {
    "reaffecter": ("reassign", "Le dossier a été réaffecté\u00a0; les relecteurs sont notifiés."),
    "approuver": ("approve", "La demande est approuvée\u00a0: les comptes vont être créés."),
    "refuser": ("refuse", "La demande est refusée\u00a0: le demandeur en est informé."),
    "completer": ("complete", "Le demandeur est invité à compléter sa demande."),
    "repondre": (
        "answer",
        "La réponse est enregistrée\u00a0; elle partira à la fin du délai de relecture "
        "(un aperçu vous est envoyé par courriel).",
    ),
    "publier": ("publish", "La réponse en attente part maintenant."),
    "annuler": ("cancel", "La réponse en attente est annulée."),
    "republier": ("publish", "La réponse va être publiée de nouveau (nouvelle version)."),
    "classer": ("close", "La question est classée sans réponse."),
    "corriger": ("correct", "La correction est enregistrée (nouvelle version)."),
    "retirer": ("withdraw", "La réponse va être retirée du portail."),
    "renvoyer": (
        "resend_invitation",
        "Une nouvelle invitation, avec un nouveau mot de passe temporaire, va être envoyée.",
    ),
    "revoquer": ("revoke_invitation", "L’invitation va être révoquée."),
    "prevenir": (
        "notify_bounce",
        "Le demandeur va être prévenu que l’invitation n’a pas pu être remise.",
    ),
}


def _filters(request: Request) -> Filters:
    q = request.query_params
    return Filters(
        kind=q.get("nature", "")[:20],
        state=q.get("etat", "")[:30],
        space=q.get("espace", "")[:20],
        reviewer=q.get("relecteur", "")[:320],
        overdue=q.get("en_retard") == "1",
        q=q.get("q", "")[:200],
    )


def cases_page(request: Request) -> Response:
    desk = state(request)
    filters = _filters(request)
    with desk.db() as session:
        rows = list_cases(session, desk.config, filters, desk.now())
    reviewers = sorted({m for g in desk.config.reviewers.groups.values() for m in g.members})
    context = {
        "rows": rows,
        "filters": filters,
        "kinds": list(KIND_LABELS.items()),
        "states": state_choices(),
        "spaces": SPACES,
        "reviewers": reviewers,
        "now": desk.now(),
    }
    return render(request, "cases.html", context)


def case_page(request: Request) -> Response:
    desk = state(request)
    ref = request.path_params["ref"]
    with desk.db() as session:
        detail = case_detail(session, desk.portal(session), ref, desk.now())
    if detail is None:
        raise HTTPException(404)
    context: dict[str, Any] = {
        "c": detail,
        "groups": sorted(desk.config.reviewers.groups),
        "reviewers": sorted({m for g in desk.config.reviewers.groups.values() for m in g.members}),
        "spaces": SPACES,
    }
    return render(request, "case.html", context)


def _args(action: str, form: FormData) -> dict[str, Any]:
    text = form_text(form, "texte", 20_000)
    if action == "reassign":
        return {
            "group": form_text(form, "groupe", 80),
            "reviewer": form_text(form, "relecteur", 320),
            "note": form_text(form, "note", 2000),
        }
    if action in ("notify_bounce", "resend_invitation", "revoke_invitation"):
        return {"person": form_text(form, "personne", 320)}
    if action == "approve":
        return {"people": parse_people(form_text(form, "personnes", 200))}
    if action == "answer":
        space = form_text(form, "espace", 20)
        return {
            "text": text,
            "space": space if space in SPACES else None,
            "publish": form.get("ne_pas_publier") != "1",
        }
    return {"text": text}


def act(request: Request, form: FormData) -> Response:
    desk = state(request)
    ref = request.path_params["ref"]
    slug = request.path_params["action"]
    if slug not in ACTIONS:
        raise HTTPException(404)
    action, done_message = ACTIONS[slug]
    admin = signed_in_admin(request)
    assert admin is not None  # RequireAdmin let the request in
    config = desk.config
    with desk.db() as session:
        portal = desk.portal(session)
    actions = CaseActions(
        config, desk.engine, portal, config.secret(), _wflog(config.log.file, config.log.format)
    )
    actions.clock = desk.now
    try:
        outcome = actions.run(ref, admin, action, **_args(action, form))
    except ActionRefused as refused:
        flash(request, f"Rien n’a été fait. {refused}", "error")
        return redirect(f"{CASES}/{ref}#actions")
    _flash_outcome(request, outcome, done_message)
    return redirect(f"{CASES}/{ref}")


def _flash_outcome(request: Request, outcome: Outcome, done_message: str) -> None:
    if outcome.done:
        flash(request, done_message)
    else:
        flash(
            request,
            f"Rien n’a été fait\u00a0: {outcome.problem}. Un courriel d’explication vous a été envoyé.",
            "error",
        )


_logs: dict[tuple[str, str], WorkflowLog] = {}


def _wflog(path: object, fmt: str) -> WorkflowLog:
    """One `WorkflowLog` per file (its lock serialises the desk's writes)."""
    key = (str(path), fmt)
    if key not in _logs:
        _logs[key] = WorkflowLog(str(path), fmt)
    return _logs[key]


def _route(path: str, endpoint: Callable[[Request], Any], methods: list[str]) -> Route:
    return Route(path, endpoint, methods=methods)


routes = [
    _route(CASES, cases_page, ["GET"]),
    _route(f"{CASES}/{{ref}}", case_page, ["GET"]),
    _route(f"{CASES}/{{ref}}/{{action}}", form_endpoint(act), ["POST"]),
]
