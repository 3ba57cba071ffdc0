"""Reviewer notifications are capped per case per hour (issue 10).

A requester, a third party or a spoofer who sends 50 follow-ups in an hour must not send 50
mails to each reviewer. Every follow-up is recorded in the case as before; the first
`Context.reviewer_notifications_per_case_per_hour` of a sliding hour are passed on one by one
(the shell counts them from the case's log: `FORWARD_EVENTS` in the last hour). Past the cap, a
follow-up is kept in the case only (`follow_up_held`), and one digest per clock hour
(`reviewer_notes_digest`, at the end of the hour) lists every follow-up of that hour, with its
sender and its attachments' names, to the same reviewers (else the admins). At most cap + 1
mails per reviewer and case in an hour, and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from workflows.calendar import french_datetime
from workflows.casework import (
    finish,
    group_for,
    group_members,
    iso,
    question_record,
    subscription_record,
)
from workflows.core import (
    CaseView,
    Context,
    Decision,
    Effect,
    LogLine,
    SendMail,
    SetTimer,
    TimerFired,
)
from workflows.reviewing import notify_members
from workflows.states import CaseKind, State

DIGEST_TIMER = "notes_digest"
DIGEST_TEMPLATE = "reviewer_notes_digest"
# The log events of a follow-up passed on to the reviewers one by one (what the cap counts).
FORWARD_EVENTS = ("requester_note", "asker_followup", "follow_up_third_party")
HELD_EVENT = "follow_up_held"


def over_cap(ctx: Context) -> bool:
    cap = ctx.reviewer_notifications_per_case_per_hour
    return cap > 0 and ctx.forwards_last_hour >= cap


def capped(
    ctx: Context, effects: Sequence[Effect], log: Sequence[LogLine]
) -> tuple[list[Effect], list[LogLine]]:
    """The follow-up's mails and log as they are, or, past the cap, no mail: the hour's digest
    timer instead, and the log line renamed `follow_up_held` (so it is not counted)."""
    if not over_cap(ctx):
        return list(effects), list(log)
    hour = ctx.now.replace(minute=0, second=0, microsecond=0)
    due = hour + timedelta(hours=1)
    timer = SetTimer(
        name=f"{DIGEST_TIMER}:{hour:%Y%m%d%H}",
        kind=DIGEST_TIMER,
        due_at=due,
        data={"since": iso(hour)},
    )
    first, *rest = log
    held = LogLine(HELD_EVENT, {"was": first.event, **dict(first.fields), "digest_at": iso(due)})
    others = [e for e in effects if not isinstance(e, SendMail)]
    return [*others, timer], [held, *rest]


def _recipients(case: CaseView, ctx: Context) -> tuple[str, ...]:
    handle = (
        "subscription"
        if case.kind == CaseKind.SUBSCRIPTION
        else f"question:{case.space or 'unclassified'}"
    )
    group = case.group or group_for(ctx, handle)
    members = ((case.assignee,) if case.assignee else ()) + group_members(ctx, group)
    return tuple(dict.fromkeys(members))


def _items(case: CaseView) -> list[dict[str, Any]]:
    """Every follow-up recorded in the case: when, from whom, what, which files."""
    items: list[dict[str, Any]] = []
    if case.kind == CaseKind.QUESTION:
        data = question_record(case)
        items += [{"at": f.at, "sender": None, "text": f.text, "files": []} for f in data.followups]
        notes = data.notes
    else:
        notes = subscription_record(case).notes
    items += [
        {
            "at": n.at,
            "sender": n.sender,
            "text": n.text,
            "files": [a.filename for a in n.attachments],
        }
        for n in notes
    ]
    return items


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def on_digest_timer(
    case: CaseView, event: TimerFired, ctx: Context, closed_states: frozenset[State]
) -> Decision:
    """The digest of the follow-ups received in the hour that starts at `event.data["since"]`."""
    since = _when(str(event.data.get("since", "")))
    if since is None:
        return finish(case, case.state, closed_states, log=[LogLine("timer_stale", {})])
    until = since + timedelta(hours=1)
    hour = [
        {**item, "when": french_datetime(item["at"])}
        for item in _items(case)
        if (at := _when(item["at"])) is not None and since <= at < until
    ]
    hour.sort(key=lambda item: str(item["at"]))
    context = {
        "kind": "question" if case.kind == CaseKind.QUESTION else "subscription",
        "requester": case.requester,
        "requester_name": case.requester_name,
        "subject": case.subject,
        "state": case.state,
        "items": hour,
        "count": len(hour),
        "since": french_datetime(iso(since)),
        "until": french_datetime(iso(until)),
        "cap": ctx.reviewer_notifications_per_case_per_hour,
    }
    to = _recipients(case, ctx)
    key = f"digest:{since:%Y%m%d%H}"
    mails: list[SendMail] = notify_members(
        DIGEST_TEMPLATE, to, context, case.data.round, prefix=key
    )
    if not to:
        to = tuple(ctx.admins)
        mails = [SendMail(DIGEST_TEMPLATE, to, context, key)] if to else []
    log = [LogLine("follow_up_digest", {"messages": len(hour), "to": len(to)})]
    return finish(case, case.state, closed_states, effects=mails if hour else [], log=log)
