"""An admin's reassignment (the desk's « Réaffecter », `mailbot cases reassign`): the case goes
to another group, or to one reviewer, who gets a fresh notification round (their own token,
so that their reply by mail counts) and the reviewer timers. The `reassigned` log line carries
the group `to`, the `space` (on a question) and `by`: the triage learns from it (docs/contracts.md,
"Triage examples")."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workflows.casework import finish, group_members, iso, question_record, subscription_record
from workflows.core import CaseView, Context, Decision, Effect, LogLine
from workflows.question_routing import notify_context as question_context
from workflows.question_routing import space_of_group
from workflows.reviewing import next_round, notify_members, review_timers
from workflows.states import QUESTION_CLOSED, SUBSCRIPTION_CLOSED, CaseKind, QuestionState
from workflows.states import SubscriptionState as S
from workflows.subscription import notify_context as subscription_context
from workflows.subscription_people import person_view

# The states in which a case waits for a reviewer (the only ones worth reassigning).
REASSIGNABLE = frozenset({QuestionState.OPEN, S.UNDER_REVIEW, S.NEEDS_INFO})


def group_of(ctx: Context, reviewer: str) -> str | None:
    """The first group (in configuration order) that has `reviewer` as a member."""
    for name, members in ctx.groups.items():
        if reviewer in members:
            return name
    return None


def refusal(case: CaseView, ctx: Context, group: str | None, reviewer: str | None) -> str | None:
    """Why the reassignment cannot be done, in French (None: it can)."""
    if case.state not in REASSIGNABLE:
        return "Ce dossier n’attend pas de relecteur\u00a0: il ne peut pas être réaffecté."
    if group is None and reviewer is None:
        return "Indiquez un groupe ou un relecteur."
    if group is not None and group not in ctx.groups:
        return f"Le groupe «\u00a0{group}\u00a0» n’existe pas dans la configuration."
    if reviewer is not None and group_of(ctx, reviewer) is None:
        return f"{reviewer} n’est membre d’aucun groupe de relecteurs."
    return None


def reassign(
    case: CaseView,
    ctx: Context,
    by: str,
    group: str | None = None,
    reviewer: str | None = None,
    note: str | None = None,
) -> Decision:
    """The reassignment, once `refusal` said nothing: `group` alone notifies all its members;
    `reviewer` (with or without `group`) notifies that reviewer only and makes them the
    assignee."""
    target = group or (group_of(ctx, reviewer) if reviewer else None)
    members = (reviewer,) if reviewer else group_members(ctx, target)
    if case.kind == CaseKind.QUESTION:
        return _question(case, ctx, by, target, reviewer, members, note)
    return _subscription(case, ctx, by, target, reviewer, members)


def _line(
    case: CaseView, by: str, target: str | None, reviewer: str | None, **more: Any
) -> LogLine:
    fields = {"from": case.group, "to": target, "reviewer": reviewer or "-", "by": by, **more}
    return LogLine("reassigned", fields)


def _question(
    case: CaseView,
    ctx: Context,
    by: str,
    target: str | None,
    reviewer: str | None,
    members: tuple[str, ...],
    note: str | None,
) -> Decision:
    data = question_record(case)
    data = replace(next_round(data), round_at=iso(ctx.now))
    space = (space_of_group(ctx, target) if target else None) or case.space
    extra = {"transfer_note": note or None, "transferred_by": by, "from_group": case.group}
    context = question_context(case, ctx, data, target, space, "transferred", extra)
    effects: list[Effect] = [
        *notify_members("question_notify", members, context, data.round),
        *review_timers(ctx, data.round),
    ]
    log = [
        _line(case, by, target, reviewer, space=space),
        LogLine(
            "notification_sent",
            {"group": target, "round": data.round, "members": len(members), "stage": "reassigned"},
        ),
    ]
    updates = {"group": target, "space": space, "assignee": reviewer}
    return finish(
        case, case.state, QUESTION_CLOSED, data=data, effects=effects, log=log, updates=updates
    )


def _subscription(
    case: CaseView,
    ctx: Context,
    by: str,
    target: str | None,
    reviewer: str | None,
    members: tuple[str, ...],
) -> Decision:
    data = subscription_record(case)
    updates = {"group": target, "assignee": reviewer}
    if case.state != S.UNDER_REVIEW:  # waiting for the requester: notified when they answer
        return finish(
            case,
            case.state,
            SUBSCRIPTION_CLOSED,
            log=[_line(case, by, target, reviewer)],
            updates=updates,
        )
    data = next_round(data)
    people = [person_view(p, ctx) for p in data.people]
    context = {
        **subscription_context(case, data, ctx, "new", people),
        "changes": None,
        "attachments": [],
    }
    effects: list[Effect] = [
        *notify_members("subscription_notify", members, context, data.round),
        *review_timers(ctx, data.round),
    ]
    log = [
        _line(case, by, target, reviewer),
        LogLine(
            "notification_sent",
            {"group": target, "round": data.round, "members": len(members), "stage": "reassigned"},
        ),
    ]
    return finish(
        case, case.state, SUBSCRIPTION_CLOSED, data=data, effects=effects, log=log, updates=updates
    )
