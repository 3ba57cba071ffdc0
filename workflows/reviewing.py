"""What both workflows do the same way with their reviewers: a notification round (one mail per
member, each with its own token), its reminder and escalation timers, the requester's later
mails passed on, and the answer every reviewer command gets (confirmation, help, "already
decided")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from workflows import group_review
from workflows.casework import (
    R,
    event_key,
    finish,
    group_members,
    ignored,
    iso,
    reply_thread,
    short,
)
from workflows.core import (
    Attachment,
    CancelTimers,
    CaseView,
    Context,
    Decision,
    Effect,
    LogLine,
    MailReceived,
    ReviewerReply,
    SendMail,
    SetTimer,
    TimerFired,
)
from workflows.records import CaseRecord
from workflows.states import State

REVIEW_TIMERS = ("reminder", "escalation")

# --------------------------------------------------------------------------- notification rounds


def notify_members(
    template: str,
    members: Sequence[str],
    context: Mapping[str, Any],
    round_number: int,
    attachments: tuple[Attachment, ...] = (),
    prefix: str = "notify",
) -> list[SendMail]:
    """One mail per member, each with its own token (`reviewer=`) so that a reply proves who
    is answering (ARCHITECTURE.md invariant 3)."""
    return [
        SendMail(
            template=template,
            to=(member,),
            context={**context, "reviewer": member},
            key=f"{prefix}:{short(member)}:{round_number}",
            reviewer=member,
            attachments=attachments,
        )
        for member in members
    ]


def next_round(data: R) -> R:
    """The record with a new notification round counted (timers carry its number)."""
    return replace(data, round=data.round + 1)


def notify_round(
    ctx: Context,
    template: str,
    group: str | None,
    context: Mapping[str, Any],
    round_number: int,
    stage: str,
    attachments: tuple[Attachment, ...] = (),
) -> Decision:
    """The notifications of round `round_number` to every member of `group`, its reviewer
    timers, and the log line that says so (to follow the workflow's decision: `then`)."""
    members = group_members(ctx, group)
    effects: list[Effect] = [
        *notify_members(template, members, context, round_number, attachments),
        *review_timers(ctx, round_number),
    ]
    fields = {"group": group, "round": round_number, "members": len(members), "stage": stage}
    return Decision(effects=tuple(effects), log=(LogLine("notification_sent", fields),))


def forward_to_reviewers(
    template: str,
    members: Sequence[str],
    context: Mapping[str, Any],
    round_number: int,
    event: MailReceived,
    key_prefix: str,
    count: int,
) -> list[SendMail]:
    """The requester's mail passed on to the reviewers of round `round_number`, with its
    attachments, keyed by the incoming message (`count` when it has no Message-ID)."""
    return notify_members(
        template,
        members,
        context,
        round_number,
        event.attachments,
        prefix=event_key(key_prefix, event.message_id, count),
    )


# --------------------------------------------------------------------------- reviewer timers


def review_timers(ctx: Context, round_number: int) -> list[Effect]:
    """Reminder then escalation, in business days from now (a new round replaces both)."""
    data = {"round": round_number}
    return [
        SetTimer(
            name="reminder",
            kind="reminder",
            due_at=ctx.add_business_days(ctx.now, ctx.reviewer_reminder_business_days),
            data=data,
        ),
        SetTimer(
            name="escalation",
            kind="escalation",
            due_at=ctx.add_business_days(ctx.now, ctx.escalation_business_days),
            data=data,
        ),
    ]


def cancel_review_timers() -> CancelTimers:
    return CancelTimers(REVIEW_TIMERS)


def is_current_round(round_number: int, timer_data: Mapping[str, Any]) -> bool:
    return int(timer_data.get("round", -1)) == round_number


def on_review_timer(
    case: CaseView,
    event: TimerFired,
    ctx: Context,
    closed_states: frozenset[State],
    waiting_state: State,
    summarize: Callable[[CaseView, Context], Mapping[str, Any]],
    *,
    reminder: str,
    escalation: str,
) -> Decision:
    """A `reminder` or `escalation` timer (one of REVIEW_TIMERS): the `reminder` template to the
    same reviewers (with their tokens), or the `escalation` one to the admins. A timer of an
    earlier round, or one that fires after the case left `waiting_state`, only logs."""
    round_number = case.data.round
    if case.state != waiting_state or not is_current_round(round_number, event.data):
        return ignored(case, closed_states, "timer_stale", kind=event.kind, state=case.state)
    summary = summarize(case, ctx)
    if event.kind == "reminder":
        members = group_members(ctx, case.group)
        context = {**summary, "business_days": ctx.reviewer_reminder_business_days}
        effects = notify_members(reminder, members, context, round_number, prefix="reminder")
        log = [LogLine("reminder_sent", {"round": round_number, "to": len(members)})]
        return finish(case, case.state, closed_states, effects=effects, log=log)
    mail = SendMail(
        template=escalation,
        to=tuple(ctx.admins),
        context={
            **summary,
            "group": case.group,
            "members": list(group_members(ctx, case.group)),
            "business_days": ctx.escalation_business_days,
        },
        key=f"escalation:{round_number}",
    )
    log = [LogLine("escalated", {"round": round_number, "group": case.group})]
    return finish(case, case.state, closed_states, effects=[mail], log=log)


# --------------------------------------------------------------------------- replies to reviewers

# Every reply to a reviewer carries all the keys its template reads (templates run with
# StrictUndefined), whichever workflow sent it.
_REVIEWER_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "review_confirmation": {
        "approved": [],
        "refused": [],
        "reason": None,
        "text": None,
        "group": None,
        "url": None,
        "version": None,
        "space_label": None,
        "published_question": None,
        "published_answer": None,
    },
    "review_help": {
        "problem": None,
        "value": None,
        "numbers": [],
        "people_count": 0,
        "groups": [],
        "spaces": [],
        "written": None,
        "suggestion": None,
        "suggested_verb": None,
        "example": None,
    },
    "review_already_decided": {
        "outcome": None,
        "decided_by": None,
        "decided_by_name": None,
        "decided_at": None,
        "url": None,
    },
}


def reviewer_mail(
    template: str,
    case: CaseView,
    reviewer: str,
    message_id: str | None,
    references: Sequence[str],
    ctx: Context,
    key_prefix: str,
    parse_errors: Sequence[str] = (),
    **context: Any,
) -> SendMail:
    """A confirmation, help or "already decided" mail, threaded under the reviewer's reply (so
    its References still lead to the notification and its token)."""
    return SendMail(
        template=template,
        to=(reviewer,),
        context={
            **_REVIEWER_DEFAULTS[template],
            "kind": case.kind,
            "state": case.state,
            "requester": case.requester,
            "requester_name": case.requester_name,
            "parse_errors": list(parse_errors),
            **context,
        },
        key=event_key(key_prefix, message_id, iso(ctx.now)),
        **reply_thread(message_id, references),
    )


def parse_errors(event: ReviewerReply) -> tuple[str, ...]:
    """The French notes of workflows.text.directives about a reviewer's reply."""
    return tuple(event.errors)


def _answer(
    template: str,
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    key_prefix: str,
    errors: Sequence[str],
    **context: Any,
) -> SendMail:
    return reviewer_mail(
        template,
        case,
        event.reviewer,
        event.message_id,
        event.references,
        ctx,
        key_prefix,
        errors,
        **context,
    )


def confirmation(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    action: str,
    key_prefix: str,
    **context: Any,
) -> SendMail:
    """`review_confirmation`: what was recorded, with the parser's notes on the reply."""
    errors = parse_errors(event)
    return _answer(
        "review_confirmation", case, event, ctx, key_prefix, errors, action=action, **context
    )


def help_reply(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    closed_states: frozenset[State],
    problem: str | None,
    log: list[LogLine],
    **context: Any,
) -> Decision:
    """`review_help`: nothing was carried out, `problem` says why (None: the reviewer asked
    for AIDE); the case stays as it is."""
    mail = _answer(
        "review_help", case, event, ctx, "help", parse_errors(event), problem=problem, **context
    )
    log.append(LogLine("review_help", {"by": event.reviewer, "problem": problem or "aide"}))
    return finish(case, case.state, closed_states, effects=[mail], log=log)


def already_decided_reply(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    closed_states: frozenset[State],
    reason: str,
    log: list[LogLine],
    **context: Any,
) -> Decision:
    """`review_already_decided` (who decided, and when, in `context`); the case stays as it
    is."""
    mail = _answer("review_already_decided", case, event, ctx, "already", (), **context)
    log.append(LogLine("decision_ignored", {"by": event.reviewer, "reason": reason}))
    return finish(case, case.state, closed_states, effects=[mail], log=log)


def settled(
    case: CaseView,
    state: State,
    closed_states: frozenset[State],
    event: ReviewerReply,
    *,
    data: CaseRecord,
    effects: Sequence[Effect],
    log: Sequence[LogLine],
    updates: Mapping[str, Any] | None = None,
    ctx: Context | None = None,
    action: str = "",
) -> Decision:
    """A reviewer settled the round: its timers are cancelled and the case is theirs; with
    `ctx`, the group's other members are told « pris en charge par … » (`action` says how)."""
    taken = group_review.taken_over(case, ctx, event.reviewer, action) if ctx else []
    return finish(
        case,
        state,
        closed_states,
        data=data,
        effects=[cancel_review_timers(), *effects, *taken],
        log=log,
        updates={"assignee": event.reviewer, **(updates or {})},
    )
