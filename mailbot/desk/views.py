"""The admins' view: open cases, mails set aside (ignored or quarantined) with a « Rejouer »
button, and the weekly chart. Read from mailbot's own tables."""

from __future__ import annotations

from datetime import datetime, timedelta

from markupsafe import Markup
from sqlmodel import col, or_, select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailbot.desk.chart import svg_chart, weekly_counts
from mailbot.desk.web import (
    PREFIX,
    flash,
    form_endpoint,
    redirect,
    render,
    signed_in_admin,
    state,
)
from mailbot.loop.quarantine import request_discard
from storage.models import Case, InboundMessage

SET_ASIDE = ("ignored", "quarantined")
# Why a mail was ignored, for the admins (the classifier's kinds and rules).
IGNORED_LABELS = {
    "own_mail": "message envoyé par le robot lui-même",
    "bounce": "rapport de non-remise",
    "auto_reply": "réponse automatique (absence, accusé de lecture…)",
    "own_address": "envoyé depuis l’adresse générique elle-même",
    "no_sender": "message sans expéditeur",
}


def set_aside_reason(message: InboundMessage) -> str:
    """Why the mail is set aside, in French."""
    if message.fate == "quarantined":
        return message.reason or "erreur de traitement"
    for key in (message.rule, message.kind):
        if key in IGNORED_LABELS:
            return IGNORED_LABELS[key]
    return "message ignoré"


MAX_ROWS = 200
CHART_WEEKS = 12


def _age(now: datetime, since: datetime) -> str:
    days = (now - since).days
    if days >= 1:
        return f"{days} j"
    return f"{max(0, int((now - since).total_seconds() // 3600))} h"


def admin_page(request: Request) -> Response:
    desk = state(request)
    now = desk.now()
    with desk.db() as session:
        cases = session.exec(
            select(Case).where(col(Case.closed_at).is_(None)).order_by(col(Case.created_at))
        ).all()
        messages = session.exec(
            select(InboundMessage)
            .where(col(InboundMessage.fate).in_(SET_ASIDE))
            .order_by(col(InboundMessage.received_at).desc())
            .limit(MAX_ROWS)
        ).all()
        since = now - timedelta(weeks=CHART_WEEKS + 1)
        pairs = session.exec(
            select(Case.created_at, Case.closed_at).where(
                or_(col(Case.created_at) >= since, col(Case.closed_at) >= since)
            )
        ).all()
        weeks = weekly_counts(pairs, now, CHART_WEEKS)
        context = {
            "cases": [{"case": c, "age": _age(now, c.created_at)} for c in cases],
            "messages": [{"m": m, "reason": set_aside_reason(m)} for m in messages],
            "weeks": weeks,
            "chart": Markup(svg_chart(weeks)),  # built from numbers and fixed labels only
            "now": now,
        }
        return render(request, "admin.html", context)


def delete(request: Request, _form: FormData) -> Response:
    """Delete a quarantined mail after review (the daemon removes its IMAP copy and bytes)."""
    admin = signed_in_admin(request) or "?"
    with state(request).db() as session:
        if session.get(InboundMessage, request.path_params["message_id"]) is None:
            raise HTTPException(404)
        done = request_discard(session, request.path_params["message_id"], admin)
    if not done:
        flash(request, "Ce message n’est plus en quarantaine : rien n’a été modifié.", "info")
    else:
        flash(request, "Le message sera supprimé par le robot dans quelques instants.")
    return redirect(f"{PREFIX}#messages")


def replay(request: Request, _form: FormData) -> Response:
    """Mark a set-aside mail for the daemon, which runs it again (`fate = "replay"`)."""
    with state(request).db() as session:
        message = session.get(InboundMessage, request.path_params["message_id"])
        if message is None:
            raise HTTPException(404)
        if message.fate not in SET_ASIDE:
            flash(request, "Ce message n’est plus en attente : rien n’a été modifié.", "info")
            return redirect(f"{PREFIX}#messages")
        message.fate = "replay"
        session.add(message)
    flash(request, "Le message sera traité de nouveau par le robot dans quelques instants.")
    return redirect(f"{PREFIX}#messages")


routes = [
    Route(PREFIX, admin_page, methods=["GET"]),
    Route(f"{PREFIX}/messages/{{message_id:int}}/rejouer", form_endpoint(replay), methods=["POST"]),
    Route(
        f"{PREFIX}/messages/{{message_id:int}}/supprimer", form_endpoint(delete), methods=["POST"]
    ),
]
