"""Reviewers in a group (issue 10).

- When one member decides or answers (or an answer is held), every other member of the case's
  group, who got the notification too, is told in one line « pris en charge par X »: one short
  mail each, threaded under their own notification (`SendMail.thread_notification`), once per
  notification round.
- A reviewer's out-of-office reply to a notification (`ReviewerAway`, found by the shell with
  the RFC 3834 signs and the usual wording) is never answered; while the case waits for its
  reviewers, the group's other members are asked at once to take it (with their own tokens, so
  they can reply with a command), or, when there are none, the admins are told, instead of
  waiting for the escalation timer. Once per round and absent reviewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workflows.casework import finish, group_members, short
from workflows.core import CaseView, Context, Decision, LogLine, ReviewerAway, SendMail
from workflows.states import CaseKind, State

TAKEN_TEMPLATE = "review_taken"
AWAY_TEMPLATE = "reviewer_away"


def _kind(case: CaseView) -> str:
    return "question" if case.kind == CaseKind.QUESTION else "subscription"


def others(case: CaseView, ctx: Context, reviewer: str) -> tuple[str, ...]:
    """The members of the case's group other than `reviewer`."""
    me = reviewer.strip().lower()
    return tuple(m for m in group_members(ctx, case.group) if m.strip().lower() != me)


def taken_over(case: CaseView, ctx: Context, by: str, action: str) -> list[SendMail]:
    """« pris en charge par X » to the other members of the group (none when X is alone)."""
    round_number = case.data.round
    context = {"kind": _kind(case), "by": by, "action": action, "subject": case.subject}
    return [
        SendMail(
            template=TAKEN_TEMPLATE,
            to=(member,),
            context=context,
            key=f"taken:{round_number}:{short(member)}",
            thread_notification=True,
        )
        for member in others(case, ctx, by)
    ]


def on_reviewer_away(
    case: CaseView,
    event: ReviewerAway,
    ctx: Context,
    closed_states: frozenset[State],
    waiting: Sequence[State],
    summary: dict[str, Any],
) -> Decision:
    """The other members asked to take the case, or the admins told; nothing when the case no
    longer waits for its reviewers."""
    fields: dict[str, Any] = {"reviewer": event.reviewer, "state": case.state}
    if case.state not in waiting:
        return finish(case, case.state, closed_states, log=[LogLine("reviewer_away", fields)])
    round_number = case.data.round
    context = {
        **summary,
        "kind": _kind(case),
        "away": event.reviewer,
        "group": case.group,
        "subject": case.subject,
        "to_admins": False,
    }
    key = f"away:{round_number}:{short(event.reviewer)}"
    members = others(case, ctx, event.reviewer)
    mails = [
        SendMail(
            template=AWAY_TEMPLATE,
            to=(member,),
            context={**context, "reviewer": member},
            key=f"{key}:{short(member)}",
            reviewer=member,
        )
        for member in members
    ]
    if not members and ctx.admins:
        admins = tuple(ctx.admins)
        mails = [SendMail(AWAY_TEMPLATE, admins, {**context, "to_admins": True}, f"{key}:admins")]
    fields["told"] = ",".join(m for mail in mails for m in mail.to) or "-"
    return finish(
        case, case.state, closed_states, effects=mails, log=[LogLine("reviewer_away", fields)]
    )
