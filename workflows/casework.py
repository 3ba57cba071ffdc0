"""What both workflows do the same way: reviewer notifications and their timers, idempotency
keys, threading towards the requester, labels shown in mails, and the final `Decision`."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from workflows.core import (
    Attachment,
    CancelTimers,
    CaseView,
    Context,
    Decision,
    Effect,
    LogLine,
    ReviewerReply,
    SendMail,
    SetTimer,
)

SPACE_LABELS: Mapping[str, str] = {"accueil": "Accueil", "desta": "DESTA", "antai": "ANTAI"}
REVIEW_TIMERS = ("reminder", "escalation")
# Mails whose failure is only logged: an acknowledgement to an address that bounces says
# nothing an admin can act on, and an alert about an alert would loop.
QUIET_FAILURES = frozenset({"subscription_ack", "question_ack", "delivery_failed_alert"})
EXCERPT_CHARS = 300


def space_label(space: str | None) -> str:
    return SPACE_LABELS.get(space or "", space or "non classée")


def spaces_label(spaces: Iterable[str]) -> str:
    """« Accueil, DESTA et ANTAI »."""
    labels = [space_label(s) for s in spaces]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " et " + labels[-1]


def iso(moment: datetime) -> str:
    return moment.isoformat()


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def short(value: str, limit: int = 80) -> str:
    """`value` itself when short, else a stable digest (keys are stored in 200 characters)."""
    if len(value) <= limit:
        return value
    return "h" + hashlib.sha256(value.encode()).hexdigest()[:24]


def event_key(prefix: str, message_id: str | None, fallback: object) -> str:
    """A mail key tied to the incoming message, so replaying it never sends twice."""
    if message_id:
        return f"{prefix}:m{hashlib.sha256(message_id.encode()).hexdigest()[:16]}"
    return f"{prefix}:{fallback}"


def mutable_data(case: CaseView) -> dict[str, Any]:
    return copy.deepcopy(dict(case.data))


def group_members(ctx: Context, group: str | None) -> tuple[str, ...]:
    if group is None:
        return ()
    return tuple(ctx.groups.get(group, ()))


def group_for(ctx: Context, handle: str, fallback: str | None = None) -> str | None:
    """The group handling `handle`, else the one handling `fallback`, if it exists."""
    for key in (handle, fallback):
        if key and ctx.handles.get(key) in ctx.groups:
            return ctx.handles[key]
    return None


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


def is_current_round(data: Mapping[str, Any], timer_data: Mapping[str, Any]) -> bool:
    return int(timer_data.get("round", -1)) == int(data.get("round", 0))


def requester_thread(case: CaseView, data: Mapping[str, Any]) -> dict[str, Any]:
    """`in_reply_to`/`references` that put our mail in the requester's thread (RFC 5322
    §3.6.4): the latest message of theirs we know, after the first one."""
    origin = case.origin_message_id
    last = data.get("last_message_id") or origin
    refs = tuple(dict.fromkeys(r for r in (origin, last) if r))
    return {"in_reply_to": last, "references": refs}


def reply_thread(message_id: str | None, references: Sequence[str]) -> dict[str, Any]:
    refs = tuple(references) + ((message_id,) if message_id else ())
    return {"in_reply_to": message_id, "references": tuple(dict.fromkeys(refs))}


def admin_alert(
    ctx: Context, case: CaseView, recipient: str, template: str, reason: str
) -> SendMail | None:
    if not ctx.admins:
        return None
    return SendMail(
        template="delivery_failed_alert",
        to=tuple(ctx.admins),
        # The same context as the runner's own alert for a 5xx (mailbot.runner).
        context={"recipient": recipient, "template": template, "reason": reason, "ref": case.ref},
        key=f"delivery_failed:{template}:{short(recipient)}",
    )


def delivery_failed_effects(
    ctx: Context, case: CaseView, recipient: str, template: str, reason: str
) -> tuple[list[Effect], LogLine]:
    effects: list[Effect] = []
    if template not in QUIET_FAILURES:
        alert = admin_alert(ctx, case, recipient, template, reason)
        if alert is not None:
            effects.append(alert)
    log = LogLine("delivery_failed", {"to": recipient, "template": template, "reason": reason})
    return effects, log


def finish(
    case: CaseView | None,
    state: str,
    closed_states: frozenset[str],
    *,
    data: Mapping[str, Any] | None = None,
    effects: Sequence[Effect] = (),
    log: Sequence[LogLine] = (),
    updates: Mapping[str, Any] | None = None,
) -> Decision:
    """The decision, with `closed` always matching the resulting state (a no-op on a closed
    case stays closed; a reopened case says closed=False)."""
    unchanged = case is not None and case.state == state
    return Decision(
        state=None if unchanged else state,
        updates=dict(updates or {}),
        data=dict(data) if data is not None else None,
        effects=tuple(effects),
        log=tuple(log),
        closed=state in closed_states,
    )


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
    """The French notes of workflows.directives about a reviewer's reply."""
    return tuple(event.errors)


def ignored(case: CaseView, closed_states: frozenset[str], name: str, **fields: Any) -> Decision:
    """Nothing to do: the case stays as it is, with one log line saying why."""
    return finish(case, case.state, closed_states, log=[LogLine(name, fields)])
