"""The admins' figures read from mailbot's tables (`workflows.stats` computes them), and the
weekly summary mail: the `weekly_summary` recurring job (Monday 08:00 Paris) queues one mail
(`templates/weekly_summary/`) to the admins with the figures of the statistics page."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from mailbot.config import Config
from mailbot.loop.outbox import enqueue_mail
from storage.models import Case, CaseEvent
from workflows.calendar import in_paris
from workflows.core import SendMail
from workflows.stats import CaseFacts, DelayRow, Report, Transition, build_report, format_hours

DEFAULT_WEEKS = 12
STATS_PATH = "/admin/statistiques"


def case_facts(session: Session, since: datetime) -> list[CaseFacts]:
    """Every case created or closed since `since`, and every open case, with its state
    transitions in order."""
    cases = session.exec(
        select(Case).where(
            or_(
                col(Case.created_at) >= since,
                col(Case.closed_at).is_(None),
                col(Case.closed_at) >= since,
            )
        )
    ).all()
    refs = [c.ref for c in cases]
    transitions: dict[str, list[Transition]] = defaultdict(list)
    for chunk in range(0, len(refs), 500):
        events = session.exec(
            select(CaseEvent)
            .where(
                CaseEvent.event == "state", col(CaseEvent.case_ref).in_(refs[chunk : chunk + 500])
            )
            .order_by(col(CaseEvent.at), col(CaseEvent.id))
        ).all()
        for e in events:
            data = e.data or {}
            transitions[e.case_ref].append(
                Transition(e.at, str(data.get("from", "")), str(data.get("to", "")))
            )
    return [
        CaseFacts(
            ref=c.ref,
            kind=c.kind,
            space=c.space,
            group=c.group,
            assignee=c.assignee,
            created_at=c.created_at,
            closed_at=c.closed_at,
            due_at=c.due_at,
            transitions=tuple(transitions[c.ref]),
        )
        for c in cases
    ]


def report(session: Session, now: datetime, weeks: int = DEFAULT_WEEKS) -> Report:
    since = now - timedelta(weeks=weeks + 1)
    return build_report(case_facts(session, since), now, weeks)


def _row(row: DelayRow) -> dict[str, Any]:
    return {
        "label": row.label,
        "first_count": row.first_answer.count,
        "first_median": format_hours(row.first_answer.median),
        "first_p90": format_hours(row.first_answer.p90),
        "decision_count": row.decision.count,
        "decision_median": format_hours(row.decision.median),
        "decision_p90": format_hours(row.decision.p90),
    }


def report_context(rep: Report) -> dict[str, Any]:
    """The report as template values (durations written the French way)."""
    last_week = rep.weeks[-2] if len(rep.weeks) > 1 else rep.weeks[-1]
    return {
        "weeks": rep.weeks,
        "last_week": last_week,
        "since": rep.since,
        "overall": _row(rep.overall),
        "per_space": [_row(r) for r in rep.per_space],
        "per_reviewer": [_row(r) for r in rep.per_reviewer],
        "overdue": [{"who": who, "count": n} for who, n in rep.overdue],
        "overdue_total": sum(n for _, n in rep.overdue),
        "open_cases": rep.open_cases,
        "week_count": len(rep.weeks),
    }


def send_weekly_summary(session: Session, config: Config, now: datetime) -> int:
    """Queue the weekly summary to the admins (one mail, all of them in To); 1, or 0 when
    there is no admin. One mail per Paris week (the idempotency key is the week's Monday)."""
    admins = tuple(sorted({a.lower() for a in config.admins.addresses}))
    if not admins:
        return 0
    rep = report(session, now)
    monday = in_paris(now).date() - timedelta(days=in_paris(now).weekday())
    mail = SendMail(
        template="weekly_summary",
        to=admins,
        context={
            **report_context(rep),
            "stats_url": config.portal.base_url.rstrip("/") + STATS_PATH,
        },
        key=f"weekly-summary:{monday.isoformat()}",
    )
    return 1 if enqueue_mail(session, config, mail, None, now=now) is not None else 0
