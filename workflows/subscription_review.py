"""Reviewer commands on a subscription case (CONTRACTS.md, "Reviewer commands"):
APPROUVER [numbers], REFUSER motif, COMPLÉTER texte, AIDE. Every command is confirmed to its
reviewer; anything else gets the help text; a decided case stays as it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from workflows.casework import iso, requester_mail, requester_thread, subscription_record
from workflows.core import (
    CaseView,
    Context,
    Decision,
    LogLine,
    ProvisionAccounts,
    ReviewerReply,
    SendMail,
)
from workflows.records import InfoRequest, ReviewDecision, SubscriptionRecord
from workflows.reviewing import already_decided_reply, confirmation, help_reply, settled
from workflows.states import SUBSCRIPTION_CLOSED as CLOSED_STATES
from workflows.states import SUBSCRIPTION_DECIDED as DECIDED_STATES
from workflows.states import SubscriptionState
from workflows.subscription_people import person_request, person_view
from workflows.text.directives import help_suggestion
from workflows.text.help_texts import HELP_TEXT_SUBSCRIPTION


def on_reviewer(case: CaseView, event: ReviewerReply, ctx: Context) -> Decision:
    command = event.command
    verb = command.verb if command is not None else None
    log = [LogLine("reviewer_command", {"verb": verb or "-", "by": event.reviewer})]
    if verb is None:
        return _help(case, event, ctx, "unknown_command", log)
    if verb == "AIDE":
        return _help(case, event, ctx, None, log)
    if case.state in DECIDED_STATES:
        return _already_decided(case, event, ctx, log)
    if case.state != SubscriptionState.UNDER_REVIEW and case.state != SubscriptionState.NEEDS_INFO:
        return _help(case, event, ctx, "nothing_to_decide", log)
    assert command is not None
    data = subscription_record(case)
    text = (command.text or "").strip()
    if verb == "APPROUVER":
        return _approve(case, event, ctx, data, command.people, log)
    if verb == "REFUSER":
        if not text:
            return _help(case, event, ctx, "missing_reason", log)
        return _refuse(case, event, ctx, data, text, log)
    if verb == "COMPLÉTER":
        if not text:
            return _help(case, event, ctx, "missing_text", log)
        return _ask_requester(case, event, ctx, data, text, log)
    return _help(case, event, ctx, "unknown_command", log)


def _decision_record(
    event: ReviewerReply,
    ctx: Context,
    verb: str,
    *,
    approved: Sequence[int] | None = None,
    refused: Sequence[int] | None = None,
    reason: str | None = None,
) -> ReviewDecision:
    return ReviewDecision(
        verb=verb,
        by=event.reviewer,
        by_name=event.reviewer_name,
        at=iso(ctx.now),
        approved=tuple(approved) if approved is not None else None,
        refused=tuple(refused) if refused is not None else None,
        reason=reason,
    )


def _approve(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: SubscriptionRecord,
    numbers: Sequence[int] | None,
    log: list[LogLine],
) -> Decision:
    people = data.people
    all_numbers = [p.number for p in people]
    chosen = sorted(set(numbers)) if numbers else all_numbers
    unknown = [n for n in chosen if n not in all_numbers]
    if unknown:
        return _help(case, event, ctx, "bad_numbers", log, numbers=unknown)
    refused = [n for n in all_numbers if n not in chosen]
    data = replace(
        data,
        decision=_decision_record(event, ctx, "APPROUVER", approved=chosen, refused=refused),
    )
    log[0] = LogLine(
        "reviewer_command",
        {"verb": "APPROUVER", "by": event.reviewer, "people": ",".join(map(str, chosen))},
    )
    approved_people = [p for p in people if p.number in chosen]
    expires_at = ctx.now + timedelta(days=ctx.invitation_expiry_days)
    provision = ProvisionAccounts(
        people=tuple(person_request(p) for p in approved_people), expires_at=expires_at
    )
    confirmed = _confirmation(
        case,
        event,
        ctx,
        "approve" if not refused else "approve_some",
        approved=[person_view(p, ctx) for p in approved_people],
        refused=[person_view(p, ctx) for p in people if p.number in refused],
    )
    log.append(LogLine("accounts_requested", {"people": len(approved_people)}))
    return settled(
        case,
        SubscriptionState.APPROVED,
        CLOSED_STATES,
        event,
        data=data,
        effects=[provision, confirmed],
        log=log,
        ctx=ctx,
        action="approve",
    )


def _refuse(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: SubscriptionRecord,
    reason: str,
    log: list[LogLine],
) -> Decision:
    data = replace(data, decision=_decision_record(event, ctx, "REFUSER", reason=reason))
    people = [person_view(p, ctx) for p in data.people]
    mail = requester_mail(
        case,
        "subscription_refused",
        {"reason": reason, "people": people},
        key=f"refused:{data.round}",
        thread=requester_thread(case, data),
    )
    confirmed = _confirmation(case, event, ctx, "refuse", reason=reason, refused=people)
    log.append(LogLine("subscription_refused", {"people": len(people)}))
    return settled(
        case,
        SubscriptionState.REFUSED,
        CLOSED_STATES,
        event,
        data=data,
        effects=[mail, confirmed],
        log=log,
        ctx=ctx,
        action="refuse",
    )


def _ask_requester(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: SubscriptionRecord,
    text: str,
    log: list[LogLine],
) -> Decision:
    request = InfoRequest(at=iso(ctx.now), by=event.reviewer, text=text)
    data = replace(data, info_requests=(*data.info_requests, request))
    mail = requester_mail(
        case,
        "subscription_needs_info",
        {"text": text, "people": [person_view(p, ctx) for p in data.people]},
        key=f"needs_info:{len(data.info_requests)}",
        thread=requester_thread(case, data),
    )
    confirmed = _confirmation(case, event, ctx, "needs_info", text=text)
    log.append(LogLine("info_requested", {"by": event.reviewer}))
    return settled(
        case,
        SubscriptionState.NEEDS_INFO,
        CLOSED_STATES,
        event,
        data=data,
        effects=[mail, confirmed],
        log=log,
        ctx=ctx,
        action="needs_info",
    )


def _confirmation(
    case: CaseView, event: ReviewerReply, ctx: Context, action: str, **context: Any
) -> SendMail:
    return confirmation(case, event, ctx, action, "confirm", **context)


def _help(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    problem: str | None,
    log: list[LogLine],
    numbers: Sequence[int] = (),
) -> Decision:
    people_count = len(subscription_record(case).people)
    return help_reply(
        case,
        event,
        ctx,
        CLOSED_STATES,
        problem,
        log,
        numbers=list(numbers),
        people_count=people_count,
        help_text=HELP_TEXT_SUBSCRIPTION,
        **(_suggestion(event, people_count) if problem == "unknown_command" else {}),
    )


def _suggestion(event: ReviewerReply, people_count: int) -> dict[str, str]:
    """What the reviewer wrote, quoted, and the command they most likely meant."""
    suggestion = help_suggestion(event.new_text, people_count)
    if suggestion is None:
        return {}
    return {
        "written": suggestion.written,
        "suggestion": suggestion.command,
        "suggested_verb": suggestion.verb,
        "example": suggestion.example,
    }


def _already_decided(
    case: CaseView, event: ReviewerReply, ctx: Context, log: list[LogLine]
) -> Decision:
    decision = subscription_record(case).decision
    return already_decided_reply(
        case,
        event,
        ctx,
        CLOSED_STATES,
        "already_decided",
        log,
        outcome=decision.verb if decision else None,
        decided_by=decision.by if decision else None,
        decided_by_name=decision.by_name if decision else None,
        decided_at=decision.at if decision else None,
    )
