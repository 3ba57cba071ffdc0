"""The subscription workflow (`ABO-…`): a request for portal accounts, from the annex table to
the invitations.

States (docs/workflows.md draws the transitions):
`incomplete` → `under_review` ⇄ `needs_info` → `approved` → `invited` → `closed`, or
`refused`. A partial approval (`APPROUVER 1,3`) is `approved` with the others refused.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workflows import (
    followup_cap,
    group_review,
    invitation_admin,
    invitations,
    subscription_review,
    third_party,
)
from workflows.annex.errors import TEMPLATE_HINT
from workflows.casework import (
    after_mail,
    delivery_failed,
    event_key,
    finish,
    group_for,
    group_members,
    ignored,
    iso,
    new_case,
    portal_failed,
    reply_thread,
    requester_mail,
    subscription_record,
    with_note,
)
from workflows.core import (
    AccountsProvisioned,
    Attachment,
    CaseView,
    Context,
    Decision,
    DeliveryFailed,
    Event,
    InvitationReissued,
    InvitationRevoked,
    LogLine,
    MailReceived,
    PortalFailed,
    ReviewerAway,
    ReviewerReply,
    TimerFired,
)
from workflows.question import is_thanks
from workflows.records import Failure, SubscriptionRecord
from workflows.reviewing import (
    REVIEW_TIMERS,
    forward_to_reviewers,
    next_round,
    notify_round,
    on_review_timer,
)
from workflows.states import SUBSCRIPTION_CLOSED as CLOSED_STATES
from workflows.states import CaseKind, State, SubscriptionState
from workflows.subscription_people import (
    errors_by_row,
    people_from_rows,
    person_view,
    review_summary,
    table_changes,
    table_is_usable,
)
from workflows.text.help_texts import HELP_TEXT_SUBSCRIPTION

BLANK_ANNEX_FILENAME = "annexe-demande-abonnement.xlsx"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- entry points


def start(event: MailReceived, ctx: Context, ref: str) -> Decision:
    """A new case from a mail with an annex (`event.annex` parsed) or asking for access
    without one (`event.annex is None`)."""
    case = new_case(event, ref, CaseKind.SUBSCRIPTION, ctx.now)
    data = SubscriptionRecord(last_message_id=event.message_id)
    if event.annex is None:
        return _ask_for_table(case, event, ctx, data, again=False)
    return _on_table(case, event, ctx, data)


def decide(case: CaseView, event: Event, ctx: Context) -> Decision:
    if isinstance(event, MailReceived):
        if third_party.is_third_party(case, event):
            return third_party.on_third_party_mail(case, event, ctx)
        return _on_requester_mail(case, event, ctx)
    if isinstance(event, ReviewerReply):
        return subscription_review.on_reviewer(case, event, ctx)
    if isinstance(event, TimerFired):
        return _on_timer(case, event, ctx)
    if isinstance(event, AccountsProvisioned):
        if case.state != SubscriptionState.APPROVED:
            return ignored(case, CLOSED_STATES, "accounts_provisioned_ignored", state=case.state)
        return invitations.on_provisioned(case, event, ctx)
    if isinstance(event, DeliveryFailed):
        return _on_delivery_failed(case, event, ctx)
    if isinstance(event, PortalFailed):
        return finish(case, case.state, CLOSED_STATES).then(portal_failed(ctx, event))
    if isinstance(event, ReviewerAway):
        waiting = (SubscriptionState.UNDER_REVIEW,)
        summary = review_summary(case, ctx)
        return group_review.on_reviewer_away(case, event, ctx, CLOSED_STATES, waiting, summary)
    if isinstance(event, InvitationReissued | InvitationRevoked):
        return invitation_admin.on_result(case, event, ctx)
    return ignored(case, CLOSED_STATES, "event_ignored", type=type(event).__name__)


# --------------------------------------------------------------------------- the table


def _on_table(
    case: CaseView, event: MailReceived, ctx: Context, data: SubscriptionRecord
) -> Decision:
    assert event.annex is not None
    data = replace(data, tables=data.tables + 1)
    if not table_is_usable(event.annex):
        return _table_refused(case, event, ctx, data)
    stages: dict[State, str] = {
        SubscriptionState.NEW: "new",
        SubscriptionState.INCOMPLETE: "resumed",
        SubscriptionState.NEEDS_INFO: "reply",
        SubscriptionState.UNDER_REVIEW: "updated",
    }
    stage = stages.get(case.state, "renewed")
    previous = data.people
    if data.decision:
        data = replace(data, history=(*data.history, data.decision), decision=None)
    data = replace(
        data,
        people=people_from_rows(event.annex.get("rows") or []),
        annex_filename=event.annex_filename,
        warnings=tuple(str(w) for w in event.annex.get("warnings") or []),
        table_received_at=iso(ctx.now),
    )
    if stage != "new" and (event.new_text.strip() or event.attachments):
        data = with_note(data, ctx, event.new_text, event)
    changes = table_changes(previous, data.people) if previous and stage != "new" else None
    return _send_for_review(case, event, ctx, data, stage, changes)


def _blank_template(ctx: Context) -> tuple[Attachment, ...]:
    if not ctx.blank_annex:
        return ()
    return (Attachment(BLANK_ANNEX_FILENAME, XLSX_TYPE, ctx.blank_annex),)


def _table_refused(
    case: CaseView, event: MailReceived, ctx: Context, data: SubscriptionRecord
) -> Decision:
    assert event.annex is not None
    errors = list(event.annex.get("errors") or [])
    general = event.annex.get("error")
    if not general and not errors:
        general = "Le tableau ne contient aucune personne à inscrire."
    # An error about the table's shape points to the blank template: it goes with the mail.
    attachments = _blank_template(ctx) if TEMPLATE_HINT in (general or "") else ()
    if general and TEMPLATE_HINT in general and not attachments:
        general = general.replace(TEMPLATE_HINT, "").strip()  # never promise what is missing
    # A faulty new table never replaces one already under review.
    keeps_previous = case.state not in (SubscriptionState.NEW, SubscriptionState.INCOMPLETE)
    context = {
        "filename": event.annex_filename,
        "error": general,
        "rows": errors_by_row(errors),
        "error_count": len(errors) or 1,
        # « these points do not prevent processing » is untrue of a table that cannot be used
        "warnings": [] if general else list(event.annex.get("warnings") or []),
        "previous_table_kept": keeps_previous,
        "template_attached": bool(attachments),
        "template_filename": BLANK_ANNEX_FILENAME,
        "omitted": list(event.omitted),
    }
    mail = requester_mail(
        case,
        "subscription_invalid",
        context,
        key=event_key("invalid", event.message_id, data.tables),
        thread=reply_thread(event.message_id, event.references),
        auto=True,
        essential=True,  # a report on an annex
        attachments=attachments,
    )
    fields = {"errors": len(errors) or 1, "general": bool(general), "template": bool(attachments)}
    log = [LogLine("annex_invalid", fields)]
    if case.state == SubscriptionState.NEW:
        log.insert(0, _opened_line(state=SubscriptionState.INCOMPLETE))
    state = case.state if keeps_previous else SubscriptionState.INCOMPLETE
    return finish(case, state, CLOSED_STATES, data=data, effects=[mail], log=log)


def _ask_for_table(
    case: CaseView, event: MailReceived, ctx: Context, data: SubscriptionRecord, *, again: bool
) -> Decision:
    attachments = _blank_template(ctx)
    context = {
        "again": again,
        "template_attached": bool(attachments),
        "template_filename": BLANK_ANNEX_FILENAME,
        "omitted": list(event.omitted),
        "not_tables": list(event.not_tables),
    }
    mail = requester_mail(
        case,
        "subscription_intent",
        context,
        key=event_key("intent", event.message_id, len(data.notes)),
        thread=reply_thread(event.message_id, event.references),
        auto=True,
        essential=not again,  # the acknowledgement of a new case
        attachments=attachments,
    )
    log = [LogLine("subscription_intent", {"again": again, "template": bool(attachments)})]
    if not again:
        log.insert(0, _opened_line(state=SubscriptionState.INCOMPLETE, reason="intent"))
    return finish(
        case, SubscriptionState.INCOMPLETE, CLOSED_STATES, data=data, effects=[mail], log=log
    )


def _opened_line(**fields: Any) -> LogLine:
    return LogLine("case_opened", {"kind": "subscription", **fields})


# --------------------------------------------------------------------------- review


def _send_for_review(
    case: CaseView,
    event: MailReceived,
    ctx: Context,
    data: SubscriptionRecord,
    stage: str,
    changes: list[str] | None = None,
) -> Decision:
    """A new notification round; the mail's attachments (the annex as its values-only copy, a
    délibération…) go with it: nothing the requester sends is dropped."""
    data = next_round(data)
    round_number = data.round
    group = group_for(ctx, "subscription")
    people = [person_view(p, ctx) for p in data.people]
    ack = requester_mail(
        case,
        "subscription_ack",
        {"stage": stage, "people": people, "omitted": list(event.omitted)},
        key="ack" if stage == "new" else f"ack:{round_number}",
        thread=reply_thread(event.message_id, event.references),
        auto=True,
        essential=True,  # a new case's acknowledgement, or the report on a new table
    )
    context = {
        **notify_context(case, data, ctx, stage, people),
        "changes": changes,
        "attachments": [a.filename for a in event.attachments],
        "omitted": list(event.omitted),
    }
    notified = notify_round(
        ctx, "subscription_notify", group, context, round_number, stage, event.attachments
    )
    if stage == "new":
        first = _opened_line(state=SubscriptionState.UNDER_REVIEW, group=group, people=len(people))
    else:
        fields = {"stage": stage, "people": len(people), "attachments": len(event.attachments)}
        first = LogLine("review_resumed", fields)
    return finish(
        case,
        SubscriptionState.UNDER_REVIEW,
        CLOSED_STATES,
        data=data,
        effects=[ack],
        log=[first],
        updates={"group": group},
    ).then(notified)


def notify_context(
    case: CaseView,
    data: SubscriptionRecord,
    ctx: Context,
    stage: str,
    people: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "stage": stage,
        "round": data.round,
        "requester": case.requester,
        "requester_name": case.requester_name,
        "subject": case.subject,
        "people": people,
        "notable_count": sum(1 for p in people if p["notable"]),
        "warnings": list(data.warnings),
        "filename": data.annex_filename,
        "notes": [n.to_json() for n in data.notes],
        "info_requests": [r.to_json() for r in data.info_requests],
        "reminder_due": iso(ctx.add_business_days(ctx.now, ctx.reviewer_reminder_business_days)),
        "help_text": HELP_TEXT_SUBSCRIPTION,
    }


def _on_requester_mail(case: CaseView, event: MailReceived, ctx: Context) -> Decision:
    data = after_mail(subscription_record(case), event)
    if event.annex is not None and case.state != SubscriptionState.APPROVED:
        return _on_table(case, event, ctx, data)
    text = event.new_text.strip()
    sent_files = bool(event.attachments or event.omitted)
    if case.state == SubscriptionState.INCOMPLETE:
        if text or event.attachments:
            data = with_note(data, ctx, text, event)
        return _ask_for_table(case, event, ctx, data, again=True)
    # « Merci beaucoup ! » is kept on the case but needs no reviewer (as for questions)
    thanks = not sent_files and case.state != SubscriptionState.NEEDS_INFO
    if (thanks and is_thanks(text)) or (not text and not sent_files):
        name = "followup_thanks" if text else "requester_mail_empty"
        data = with_note(data, ctx, text, event) if text else data
        log = [LogLine(name, {"from": event.sender})]
        return finish(case, case.state, CLOSED_STATES, data=data, log=log)
    data = with_note(data, ctx, text, event)
    if case.state == SubscriptionState.NEEDS_INFO:
        return _send_for_review(case, event, ctx, data, "reply")
    return _forward_note(case, event, ctx, data, text)


def _forward_note(
    case: CaseView, event: MailReceived, ctx: Context, data: SubscriptionRecord, text: str
) -> Decision:
    """Anything else the requester writes reaches the reviewers (nothing is decided)."""
    members = group_members(ctx, case.group or group_for(ctx, "subscription"))
    context = {
        "requester": case.requester,
        "requester_name": case.requester_name,
        "text": text,
        "state": case.state,
        "people": [person_view(p, ctx) for p in data.people],
        "attachments": [a.filename for a in event.attachments],
        "omitted": list(event.omitted),
    }
    effects = forward_to_reviewers(
        "subscription_requester_note",
        members,
        context,
        data.round,
        event,
        "note",
        len(data.notes),
    )
    fields = {"forwarded_to": len(members), "state": case.state}
    log = [LogLine("requester_note", {**fields, "attachments": len(event.attachments)})]
    sent, log = followup_cap.capped(ctx, effects, log)
    return finish(case, case.state, CLOSED_STATES, data=data, effects=sent, log=log)


# --------------------------------------------------------------------------- timers, failures


def _on_timer(case: CaseView, event: TimerFired, ctx: Context) -> Decision:
    if event.kind in REVIEW_TIMERS:
        return on_review_timer(
            case,
            event,
            ctx,
            CLOSED_STATES,
            SubscriptionState.UNDER_REVIEW,
            review_summary,
            reminder="subscription_reminder",
            escalation="subscription_escalation",
        )
    if event.kind in (invitations.REMINDER, invitations.EXPIRY):
        return invitations.on_timer(case, event, ctx)
    if event.kind == followup_cap.DIGEST_TIMER:
        return followup_cap.on_digest_timer(case, event, ctx, CLOSED_STATES)
    return ignored(case, CLOSED_STATES, "timer_unknown", kind=event.kind)


def _on_delivery_failed(case: CaseView, event: DeliveryFailed, ctx: Context) -> Decision:
    data = invitations.mark_failed(subscription_record(case), event.recipient, event.template)
    failure = Failure(
        at=iso(ctx.now), to=event.recipient, template=event.template, reason=event.reason
    )
    data = replace(data, failures=(*data.failures, failure))
    return finish(case, case.state, CLOSED_STATES, data=data).then(
        delivery_failed(ctx, case, event)
    )
