"""The admins' view: open cases, mails set aside (ignored or quarantined) with a « Rejouer »
button, and the weekly chart. Admin accounts only; everyone else gets the 403 page."""

from __future__ import annotations

from datetime import datetime, timedelta

from markupsafe import Markup
from sqlmodel import col, or_, select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal_stub.chart import svg_chart, weekly_counts
from portal_stub.web import flash, form_endpoint, redirect, render, require_admin, state
from storage.models import Case, InboundMessage

SET_ASIDE = ("ignored", "quarantined")
MAX_ROWS = 200
CHART_WEEKS = 12


def _age(now: datetime, since: datetime) -> str:
    days = (now - since).days
    if days >= 1:
        return f"{days} j"
    return f"{max(0, int((now - since).total_seconds() // 3600))} h"


def admin_page(request: Request) -> Response:
    portal = state(request)
    now = portal.now()
    with portal.db() as session:
        account = require_admin(request, session)
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
            "messages": messages,
            "weeks": weeks,
            "chart": Markup(svg_chart(weeks)),  # built from numbers and fixed labels only
            "now": now,
        }
        return render(request, "admin.html", context, account=account)


def replay(request: Request, form: FormData) -> Response:
    """Mark a set-aside mail for the daemon, which runs it again (`fate = "replay"`)."""
    with state(request).db() as session:
        require_admin(request, session)
        message = session.get(InboundMessage, request.path_params["message_id"])
        if message is None:
            raise HTTPException(404)
        if message.fate not in SET_ASIDE:
            flash(request, "Ce message n’est plus en attente : rien n’a été modifié.", "info")
            return redirect("/admin#messages")
        message.fate = "replay"
        session.add(message)
    flash(request, "Le message sera traité de nouveau par le robot dans quelques instants.")
    return redirect("/admin#messages")


routes = [
    Route("/admin", admin_page, methods=["GET"]),
    Route("/admin/messages/{message_id:int}/rejouer", form_endpoint(replay), methods=["POST"]),
]
