"""The subscription workflow (`ABO-…`): a request for portal accounts, from the annex table to
the invitations.

States (docs/workflows.md draws the transitions):
`incomplete` → `under_review` ⇄ `needs_info` → `approved` → `invited` → `closed`, or
`refused`. A partial approval (`APPROUVER 1,3`) is `approved` with the others refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows import invitations, subscription_review
from workflows.casework import (
    delivery_failed_effects,
    event_key,
    finish,
    group_for,
    group_members,
    ignored,
    is_current_round,
    iso,
    mutable_data,
    notify_members,
    reply_thread,
    review_timers,
)
from workflows.core import (
    AccountsProvisioned,
    Attachment,
    CaseView,
    Context,
    Decision,
    DeliveryFailed,
    Effect,
    Event,
    LogLine,
    MailReceived,
    ReviewerReply,
    SendMail,
    TimerFired,
)
from workflows.directives import HELP_TEXT_SUBSCRIPTION
from workflows.states import (
    APPROVED,
    INCOMPLETE,
    NEEDS_INFO,
    UNDER_REVIEW,
)
from workflows.states import SUBSCRIPTION_CLOSED as CLOSED_STATES
from workflows.subscription_people import (
    errors_by_row,
    people_from_rows,
    person_view,
    table_is_usable,
)

BLANK_ANNEX_FILENAME = "annexe-demande-abonnement.xlsx"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- entry points


def start(event: MailReceived, ctx: Context, ref: str) -> Decision:
    """A new case from a mail with an annex (`event.annex` parsed) or asking for access
    without one (`event.annex is None`)."""
    case = _new_case_view(event, ctx, ref)
    data: dict[str, Any] = {
        "round": 0,
        "tables": 0,
        "people": [],
        "notes": [],
        "info_requests": [],
        "history": [],
        "decision": None,
        "invitations": {},
        "last_message_id": event.message_id,
    }
    if event.annex is None:
        return _ask_for_table(case, event, ctx, data, again=False)
    return _on_table(case, event, ctx, data)


def decide(case: CaseView, event: Event, ctx: Context) -> Decision:
    if isinstance(event, MailReceived):
        return _on_requester_mail(case, event, ctx)
    if isinstance(event, ReviewerReply):
        return subscription_review.on_reviewer(case, event, ctx)
    if isinstance(event, TimerFired):
        return _on_timer(case, event, ctx)
    if isinstance(event, AccountsProvisioned):
        if case.state != APPROVED:
            return ignored(case, CLOSED_STATES, "accounts_provisioned_ignored", state=case.state)
        state, data, effects, log = invitations.on_provisioned(case, event, ctx)
        return finish(case, state, CLOSED_STATES, data=data, effects=effects, log=log)
    if isinstance(event, DeliveryFailed):
        return _on_delivery_failed(case, event, ctx)
    return ignored(case, CLOSED_STATES, "event_ignored", type=type(event).__name__)


# --------------------------------------------------------------------------- the table


def _new_case_view(event: MailReceived, ctx: Context, ref: str) -> CaseView:
    return CaseView(
        ref=ref,
        kind="subscription",
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


def _annex_attachment(event: MailReceived) -> tuple[Attachment, ...]:
    for att in event.attachments:
        if event.annex_filename and att.filename == event.annex_filename:
            return (att,)
    return event.attachments[:1] if len(event.attachments) == 1 else ()


def _on_table(case: CaseView, event: MailReceived, ctx: Context, data: dict[str, Any]) -> Decision:
    assert event.annex is not None
    data["tables"] = int(data.get("tables", 0)) + 1
    if not table_is_usable(event.annex):
        return _table_refused(case, event, ctx, data)
    stage = {
        "new": "new",
        INCOMPLETE: "resumed",
        NEEDS_INFO: "reply",
        UNDER_REVIEW: "updated",
    }.get(case.state, "renewed")
    if data.get("decision"):
        data.setdefault("history", []).append(data["decision"])
        data["decision"] = None
    data["people"] = people_from_rows(event.annex.get("rows") or [])
    data["annex_filename"] = event.annex_filename
    data["warnings"] = list(event.annex.get("warnings") or [])
    data["table_received_at"] = iso(ctx.now)
    if event.new_text.strip() and stage != "new":
        _add_note(data, ctx, event.new_text)
    return _send_for_review(case, event, ctx, data, stage, _annex_attachment(event))


def _table_refused(
    case: CaseView, event: MailReceived, ctx: Context, data: dict[str, Any]
) -> Decision:
    assert event.annex is not None
    errors = list(event.annex.get("errors") or [])
    general = event.annex.get("error")
    if not general and not errors:
        general = "Le tableau ne contient aucune personne à inscrire."
    # A faulty new table never replaces one already under review.
    keeps_previous = case.state not in ("new", INCOMPLETE)
    mail = SendMail(
        template="subscription_invalid",
        to=(case.requester,),
        context={
            "filename": event.annex_filename,
            "error": general,
            "rows": errors_by_row(errors),
            "error_count": len(errors) or 1,
            "warnings": list(event.annex.get("warnings") or []),
            "previous_table_kept": keeps_previous,
            "requester_name": case.requester_name,
        },
        key=event_key("invalid", event.message_id, data["tables"]),
        auto=True,
        **reply_thread(event.message_id, event.references),
    )
    log = [LogLine("annex_invalid", {"errors": len(errors) or 1, "general": bool(general)})]
    if case.state == "new":
        log.insert(0, _opened_line(state=INCOMPLETE))
    state = case.state if keeps_previous else INCOMPLETE
    return finish(case, state, CLOSED_STATES, data=data, effects=[mail], log=log)


def _ask_for_table(
    case: CaseView, event: MailReceived, ctx: Context, data: dict[str, Any], *, again: bool
) -> Decision:
    attachments: tuple[Attachment, ...] = ()
    if ctx.blank_annex:
        attachments = (Attachment(BLANK_ANNEX_FILENAME, XLSX_TYPE, ctx.blank_annex),)
    mail = SendMail(
        template="subscription_intent",
        to=(case.requester,),
        context={
            "again": again,
            "template_attached": bool(attachments),
            "template_filename": BLANK_ANNEX_FILENAME,
            "requester_name": case.requester_name,
        },
        key=event_key("intent", event.message_id, len(data.get("notes", []))),
        auto=True,
        attachments=attachments,
        **reply_thread(event.message_id, event.references),
    )
    log = [LogLine("subscription_intent", {"again": again, "template": bool(attachments)})]
    if not again:
        log.insert(0, _opened_line(state=INCOMPLETE, reason="intent"))
    return finish(case, INCOMPLETE, CLOSED_STATES, data=data, effects=[mail], log=log)


def _opened_line(**fields: Any) -> LogLine:
    return LogLine("case_opened", {"kind": "subscription", **fields})


# --------------------------------------------------------------------------- review


def _send_for_review(
    case: CaseView,
    event: MailReceived,
    ctx: Context,
    data: dict[str, Any],
    stage: str,
    attachments: tuple[Attachment, ...] = (),
) -> Decision:
    data["round"] = int(data.get("round", 0)) + 1
    round_number = data["round"]
    group = group_for(ctx, "subscription")
    members = group_members(ctx, group)
    people = [person_view(p, ctx) for p in data["people"]]
    ack = SendMail(
        template="subscription_ack",
        to=(case.requester,),
        context={"stage": stage, "people": people, "requester_name": case.requester_name},
        key="ack" if stage == "new" else f"ack:{round_number}",
        auto=True,
        **reply_thread(event.message_id, event.references),
    )
    context = _notify_context(case, data, ctx, stage, people)
    effects: list[Effect] = [ack]
    effects += notify_members("subscription_notify", members, context, round_number, attachments)
    effects += review_timers(ctx, round_number)
    log = [
        LogLine(
            "notification_sent",
            {"group": group, "round": round_number, "members": len(members), "stage": stage},
        )
    ]
    if stage == "new":
        log.insert(0, _opened_line(state=UNDER_REVIEW, group=group, people=len(people)))
    else:
        log.insert(0, LogLine("review_resumed", {"stage": stage, "people": len(people)}))
    return finish(
        case,
        UNDER_REVIEW,
        CLOSED_STATES,
        data=data,
        effects=effects,
        log=log,
        updates={"group": group},
    )


def _notify_context(
    case: CaseView,
    data: Mapping[str, Any],
    ctx: Context,
    stage: str,
    people: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "stage": stage,
        "round": data.get("round", 1),
        "requester": case.requester,
        "requester_name": case.requester_name,
        "subject": case.subject,
        "people": people,
        "notable_count": sum(1 for p in people if p["notable"]),
        "warnings": list(data.get("warnings") or []),
        "filename": data.get("annex_filename"),
        "notes": list(data.get("notes") or []),
        "info_requests": list(data.get("info_requests") or []),
        "reminder_due": iso(ctx.add_business_days(ctx.now, ctx.reviewer_reminder_business_days)),
        "help_text": HELP_TEXT_SUBSCRIPTION,
    }


def _add_note(data: dict[str, Any], ctx: Context, text: str) -> None:
    data.setdefault("notes", []).append({"at": iso(ctx.now), "text": text.strip()})


def _on_requester_mail(case: CaseView, event: MailReceived, ctx: Context) -> Decision:
    data = mutable_data(case)
    if event.message_id:
        data["last_message_id"] = event.message_id
    if event.annex is not None and case.state != APPROVED:
        return _on_table(case, event, ctx, data)
    text = event.new_text.strip()
    if case.state == INCOMPLETE:
        if text:
            _add_note(data, ctx, text)
        return _ask_for_table(case, event, ctx, data, again=True)
    if not text:
        return finish(
            case,
            case.state,
            CLOSED_STATES,
            data=data,
            log=[LogLine("requester_mail_empty", {"from": event.sender})],
        )
    _add_note(data, ctx, text)
    if case.state == NEEDS_INFO:
        return _send_for_review(case, event, ctx, data, "reply")
    return _forward_note(case, event, ctx, data, text)


def _forward_note(
    case: CaseView, event: MailReceived, ctx: Context, data: dict[str, Any], text: str
) -> Decision:
    """Anything else the requester writes reaches the reviewers (nothing is decided)."""
    members = group_members(ctx, case.group or group_for(ctx, "subscription"))
    context = {
        "requester": case.requester,
        "requester_name": case.requester_name,
        "text": text,
        "state": case.state,
        "people": [person_view(p, ctx) for p in data.get("people", [])],
        "attachments": [a.filename for a in event.attachments],
    }
    prefix = event_key("note", event.message_id, len(data["notes"]))
    effects = notify_members(
        "subscription_requester_note",
        members,
        context,
        int(data.get("round", 0)),
        event.attachments,
        prefix=prefix,
    )
    log = [LogLine("requester_note", {"forwarded_to": len(members), "state": case.state})]
    return finish(case, case.state, CLOSED_STATES, data=data, effects=effects, log=log)


# --------------------------------------------------------------------------- timers, failures


def _on_timer(case: CaseView, event: TimerFired, ctx: Context) -> Decision:
    if event.kind in ("reminder", "escalation"):
        if case.state != UNDER_REVIEW or not is_current_round(case.data, event.data):
            return ignored(case, CLOSED_STATES, "timer_stale", kind=event.kind, state=case.state)
        if event.kind == "reminder":
            return _remind_reviewers(case, ctx)
        return _escalate(case, ctx)
    if event.kind in (invitations.REMINDER, invitations.EXPIRY):
        state, data, effects, log = invitations.on_timer(case, event, ctx)
        return finish(case, state, CLOSED_STATES, data=data, effects=effects, log=log)
    return ignored(case, CLOSED_STATES, "timer_unknown", kind=event.kind)


def _review_summary(case: CaseView, ctx: Context) -> dict[str, Any]:
    people = case.data.get("people", [])
    return {
        "requester": case.requester,
        "requester_name": case.requester_name,
        "subject": case.subject,
        "received_at": case.data.get("table_received_at") or iso(case.created_at),
        "people_count": len(people),
        "people": [person_view(p, ctx) for p in people],
    }


def _remind_reviewers(case: CaseView, ctx: Context) -> Decision:
    round_number = int(case.data.get("round", 0))
    members = group_members(ctx, case.group)
    context = {**_review_summary(case, ctx), "business_days": ctx.reviewer_reminder_business_days}
    effects = notify_members(
        "subscription_reminder", members, context, round_number, prefix="reminder"
    )
    log = [LogLine("reminder_sent", {"round": round_number, "to": len(members)})]
    return finish(case, case.state, CLOSED_STATES, effects=effects, log=log)


def _escalate(case: CaseView, ctx: Context) -> Decision:
    round_number = int(case.data.get("round", 0))
    mail = SendMail(
        template="subscription_escalation",
        to=tuple(ctx.admins),
        context={
            **_review_summary(case, ctx),
            "group": case.group,
            "members": list(group_members(ctx, case.group)),
            "business_days": ctx.escalation_business_days,
        },
        key=f"escalation:{round_number}",
    )
    log = [LogLine("escalated", {"round": round_number, "group": case.group})]
    return finish(case, case.state, CLOSED_STATES, effects=[mail], log=log)


def _on_delivery_failed(case: CaseView, event: DeliveryFailed, ctx: Context) -> Decision:
    effects, line = delivery_failed_effects(
        ctx, case, event.recipient, event.template, event.reason
    )
    data = mutable_data(case)
    invitations.mark_failed(data, event.recipient, event.template)
    data.setdefault("failures", []).append(
        {
            "at": iso(ctx.now),
            "to": event.recipient,
            "template": event.template,
            "reason": event.reason,
        }
    )
    return finish(case, case.state, CLOSED_STATES, data=data, effects=effects, log=[line])
