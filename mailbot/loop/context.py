"""What a workflow decision may need to know, gathered by the shell (`workflows.core.Context`):
the configuration, the clock, and the look-ups that depend on the event (existing accounts,
open requests, triage, similar published answers, the blank annex)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from mailbot.annex.reader import AnnexLimits, blank_template_bytes
from mailbot.config import Config
from mailbot.loop.case_people import find_open_requests
from mailbot.loop.triage_model import model_for
from mailbot.portal import Portal
from storage.models import Case, CaseEvent
from workflows.annex.rules import AnnexError
from workflows.calendar import add_business_days
from workflows.core import Context, Event, MailReceived, SimilarAnswer, TimerFired
from workflows.followup_cap import FORWARD_EVENTS
from workflows.records import SubscriptionRecord
from workflows.text.triage import Settings, triage

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def blank_annex(limits: AnnexLimits) -> bytes:
    """The blank annex to attach, written once by an annex worker (or here, loading openpyxl,
    when no worker can be started)."""
    try:
        return blank_template_bytes(limits)
    except (AnnexError, OSError) as exc:
        log.warning("blank annex written in the daemon: %s", exc)
        from mailbot.annex.template import build_template  # noqa: PLC0415 - the fallback only

        return build_template()


def build_context(
    config: Config,
    session: Session,
    portal: Portal,
    kind: str,
    event: Event | None,
    case: Case | None,
    now: datetime,
    handles: Mapping[str, str],
    *,
    opened: bool = False,
) -> Context:
    existing: dict[str, Any] = {}
    open_requests: dict[str, str] = {}
    similar: tuple[SimilarAnswer, ...] = ()
    triage_result = None
    blank = None
    if isinstance(event, TimerFired) and kind == "subscription" and case is not None:
        # Invitation reminders and expiry need to know who has logged in since.
        people = [p.email for p in SubscriptionRecord.from_json(case.data or {}).people]
        existing = dict(portal.find_accounts([e for e in people if e]))
    if isinstance(event, MailReceived):
        emails = [event.sender]
        if event.annex:
            emails += [r["email"] for r in event.annex.get("rows", []) if r.get("email")]
        existing = dict(portal.find_accounts(emails))
        if kind == "subscription":
            open_requests = find_open_requests(session, emails, case.ref if case else None)
            blank = blank_annex(AnnexLimits.from_config(config.limits))
        else:
            questions = config.questions
            text = event.new_text or event.text
            settings = Settings(questions.min_score, questions.model_weight, questions.close_margin)
            model = model_for(session, config)
            triage_result = triage(
                event.subject, text, questions.rules, questions.min_score, model, settings
            )
            hits = portal.search(f"{event.subject} {event.new_text}"[:500], None, 3)
            similar = tuple(SimilarAnswer(h.case_ref, h.space, h.question, h.url) for h in hits)
    # A case opened by this very event has passed nothing on yet: no query for it.
    forwards = forwards_last_hour(session, case.ref, now) if case is not None and not opened else 0
    timers = config.timers
    return Context(
        now=now,
        generic_address=config.instance.generic_address,
        portal_base_url=config.portal.base_url,
        groups={n: tuple(g.members) for n, g in config.reviewers.groups.items()},
        handles=handles,
        admins=tuple(config.admins.addresses),
        cerema_url=config.questions.cerema_url,
        auto_redirect_out_of_scope=config.questions.auto_redirect_out_of_scope,
        reviewer_reminder_business_days=timers.reviewer_reminder_business_days,
        escalation_business_days=timers.escalation_business_days,
        invitation_reminder_days=timers.invitation_reminder_days,
        invitation_expiry_days=timers.invitation_expiry_days,
        add_business_days=add_business_days,
        publish_delay_minutes=config.questions.publish_delay_minutes,
        reviewer_notifications_per_case_per_hour=config.limits.reviewer_notifications_per_case_per_hour,
        forwards_last_hour=forwards,
        existing_accounts=existing,
        open_requests=open_requests,
        similar_answers=similar,
        triage=triage_result,
        blank_annex=blank,
        keep_contacts=(config.instance.generic_address, *config.privacy.keep_contacts),
    )


def forwards_last_hour(session: Session, case_ref: str, now: datetime) -> int:
    """Follow-ups of the case passed on to its reviewers one by one in the last hour."""
    params = {"case_ref": case_ref, "since": now - timedelta(hours=1)}
    return int(session.exec(_forwards_query(), params=params).one())


@cache
def _forwards_query() -> SelectOfScalar[int]:
    """Built once: building a statement costs more than running it on SQLite."""
    return (
        select(func.count())
        .select_from(CaseEvent)
        .where(
            CaseEvent.case_ref == bindparam("case_ref"),
            col(CaseEvent.event).in_(FORWARD_EVENTS),
            CaseEvent.at >= bindparam("since"),
        )
    )
