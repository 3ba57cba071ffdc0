"""The question workflow (`Q-…`): acknowledged, triaged to a space, answered by a reviewer,
mailed to the asker and published without personal data.

States: `open` (waiting for a reviewer) → `publishing` (answer given, waiting for the portal)
→ `answered` (closed). A follow-up of the asker after the answer reopens the case (`open`,
same group). HORS PÉRIMÈTRE and NE PAS PUBLIER go straight to `answered`.
"""

from __future__ import annotations

import re
from typing import Any

from workflows import privacy, question_review
from workflows.casework import (
    delivery_failed_effects,
    event_key,
    excerpt,
    finish,
    group_for,
    group_members,
    ignored,
    is_current_round,
    iso,
    mutable_data,
    notify_members,
    reply_thread,
    space_label,
)
from workflows.core import (
    CaseView,
    Context,
    Decision,
    DeliveryFailed,
    Event,
    LogLine,
    MailReceived,
    Published,
    ReviewerReply,
    SendMail,
    TimerFired,
)
from workflows.question_routing import (
    DEFAULT_SPACE,
    MAX_SIMILAR,
    gist,
    notify_context,
    route,
    similar_view,
)
from workflows.states import ANSWERED, OPEN
from workflows.states import QUESTION_CLOSED as CLOSED_STATES
from workflows.triage import fold

_THANKS = re.compile(
    r"^(?:(?:un )?(?:grand |tous mes )?merci(?:s)?(?: beaucoup| bien| infiniment)?"
    r"(?: (?:pour|de) (?:votre|cette|la) (?:reponse|retour|aide|rapidite)(?: rapide)?)?"
    r"|bien recu|parfait|c est note|tres bien|entendu|ok)"
    r"(?: merci(?: beaucoup)?)?(?: (?:bonne|belle) (?:journee|soiree))?$"
)


# --------------------------------------------------------------------------- entry points


def start(event: MailReceived, ctx: Context, ref: str) -> Decision:
    """A new question; `ctx.triage` holds the `TriageResult` (None: unclassified)."""
    case = CaseView(
        ref=ref,
        kind="question",
        state="new",
        requester=event.sender,
        requester_name=event.sender_name,
        subject=event.subject,
        group=None,
        assignee=None,
        space=None,
        origin_message_id=event.message_id,
        created_at=ctx.now,
    )
    triage = ctx.triage
    question = event.new_text.strip() or event.text.strip()
    data: dict[str, Any] = {
        "round": 0,
        "question": question,
        "published_question": privacy.scrub(question, event.sender_name, event.sender),
        "triage": triage.as_data() if hasattr(triage, "as_data") else None,
        "similar": [similar_view(s) for s in ctx.similar_answers[:MAX_SIMILAR]],
        "followups": [],
        "answers": [],
        "publications": [],
        "transfers": [],
        "last_message_id": event.message_id,
    }
    space = getattr(triage, "space", None)
    if ctx.auto_redirect_out_of_scope and getattr(triage, "out_of_scope", False) and space is None:
        opened = LogLine("case_opened", {"kind": "question", "outcome": "redirected"})
        return question_review.redirect(case, ctx, data, None, None, [opened])
    group = group_for(ctx, f"question:{space}", "question:unclassified")
    ack = SendMail(
        template="question_ack",
        to=(event.sender,),
        context={
            "stage": "new",
            "similar": data["similar"],
            "question_excerpt": excerpt(privacy.strip_courtesy(question) or question),
            "requester_name": event.sender_name,
        },
        key="ack",
        auto=True,
        **reply_thread(event.message_id, event.references),
    )
    opened = LogLine(
        "case_opened", {"kind": "question", "space": space or "unclassified", "group": group}
    )
    return route(
        case, ctx, data, group, space, "new", [ack], [opened], attachments=event.attachments
    )


def decide(case: CaseView, event: Event, ctx: Context) -> Decision:
    if isinstance(event, ReviewerReply):
        return question_review.on_reviewer(case, event, ctx)
    if isinstance(event, Published):
        return question_review.on_published(case, event, ctx)
    if isinstance(event, MailReceived):
        return _on_asker_mail(case, event, ctx)
    if isinstance(event, TimerFired):
        return _on_timer(case, event, ctx)
    if isinstance(event, DeliveryFailed):
        effects, line = delivery_failed_effects(
            ctx, case, event.recipient, event.template, event.reason
        )
        return finish(case, case.state, CLOSED_STATES, effects=effects, log=[line])
    return ignored(case, CLOSED_STATES, "event_ignored", type=type(event).__name__)


# --------------------------------------------------------------------------- routing


def is_thanks(text: str) -> bool:
    """« Merci beaucoup pour votre réponse ! » needs no reviewer: it does not reopen."""
    return "?" not in text and len(text) < 160 and bool(_THANKS.match(fold(text)))


def _on_asker_mail(case: CaseView, event: MailReceived, ctx: Context) -> Decision:
    data = mutable_data(case)
    if event.message_id:
        data["last_message_id"] = event.message_id
    text = event.new_text.strip()
    if not text:
        return finish(
            case, case.state, CLOSED_STATES, data=data, log=[LogLine("asker_mail_empty", {})]
        )
    after_answer = case.state == ANSWERED
    if after_answer and is_thanks(text):
        data.setdefault("notes", []).append({"at": iso(ctx.now), "text": text})
        return finish(
            case, case.state, CLOSED_STATES, data=data, log=[LogLine("followup_thanks", {})]
        )
    data.setdefault("followups", []).append(
        {
            "at": iso(ctx.now),
            "text": text,
            "published": privacy.scrub(text, case.requester_name, case.requester),
            "after_answer": after_answer,
        }
    )
    group = case.group or group_for(ctx, "question:unclassified")
    if after_answer:
        ack = SendMail(
            template="question_ack",
            to=(case.requester,),
            context={
                "stage": "reopened",
                "similar": [],
                "question_excerpt": excerpt(privacy.strip_courtesy(text) or text),
                "requester_name": case.requester_name,
            },
            key=f"ack:{int(data.get('round', 0)) + 1}",
            auto=True,
            **reply_thread(event.message_id, event.references),
        )
        log = [LogLine("case_reopened", {"round": int(data.get("round", 0)) + 1})]
        return route(
            case, ctx, data, group, case.space, "reopened", [ack], log,
            attachments=event.attachments, extra={"followup_text": text},
        )  # fmt: skip
    return _forward_followup(case, event, ctx, data, group, text)


def _forward_followup(
    case: CaseView,
    event: MailReceived,
    ctx: Context,
    data: dict[str, Any],
    group: str | None,
    text: str,
) -> Decision:
    """More from the asker while the case is open: the reviewers see it (same round)."""
    context = notify_context(
        case, ctx, data, group, case.space, "followup", {"followup_text": text}
    )
    prefix = event_key("followup", event.message_id, len(data["followups"]))
    effects = notify_members(
        "question_notify",
        group_members(ctx, group),
        context,
        int(data.get("round", 0)),
        event.attachments,
        prefix=prefix,
    )
    log = [LogLine("asker_followup", {"state": case.state, "forwarded_to": len(effects)})]
    return finish(case, case.state, CLOSED_STATES, data=data, effects=effects, log=log)


# --------------------------------------------------------------------------- timers


def _on_timer(case: CaseView, event: TimerFired, ctx: Context) -> Decision:
    if event.kind not in ("reminder", "escalation"):
        return ignored(case, CLOSED_STATES, "timer_unknown", kind=event.kind)
    if case.state != OPEN or not is_current_round(case.data, event.data):
        return ignored(case, CLOSED_STATES, "timer_stale", kind=event.kind, state=case.state)
    round_number = int(case.data.get("round", 0))
    summary = {
        "asker": case.requester,
        "asker_name": case.requester_name,
        "subject": case.subject,
        "received_at": case.data.get("round_at") or iso(case.created_at),
        "question_excerpt": gist(case.data),
        "space_label": space_label(case.space or DEFAULT_SPACE),
        "group": case.group,
    }
    if event.kind == "reminder":
        members = group_members(ctx, case.group)
        context = {**summary, "business_days": ctx.reviewer_reminder_business_days}
        effects = notify_members(
            "question_reminder", members, context, round_number, prefix="reminder"
        )
        log = [LogLine("reminder_sent", {"round": round_number, "to": len(members)})]
        return finish(case, case.state, CLOSED_STATES, effects=effects, log=log)
    mail = SendMail(
        template="question_escalation",
        to=tuple(ctx.admins),
        context={
            **summary,
            "members": list(group_members(ctx, case.group)),
            "business_days": ctx.escalation_business_days,
        },
        key=f"escalation:{round_number}",
    )
    log = [LogLine("escalated", {"round": round_number, "group": case.group})]
    return finish(case, case.state, CLOSED_STATES, effects=[mail], log=log)
