"""A reviewer's reply on a question: the answer and its directives (CONTRACTS.md), then the
portal's `Published`. Protective directives win: HORS PÉRIMÈTRE over everything, NE PAS PUBLIER
over publication (fail closed). The answer is held before it goes out (workflows.question_hold);
what a reviewer may do once it has gone is in workflows.question_after."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workflows import question_after, question_hold
from workflows.casework import finish, ignored, iso, question_record, space_label
from workflows.core import (
    CaseView,
    Context,
    Decision,
    LogLine,
    Published,
    ReviewerReply,
    SendMail,
)
from workflows.question_hold import record_answer, released_notice
from workflows.question_mails import answer_mail, cerema_mail, question_help
from workflows.question_routing import route, space_of_group
from workflows.records import PendingAnswer, Publication, QuestionRecord, Transfer
from workflows.reviewing import already_decided_reply, confirmation, reviewer_mail
from workflows.states import QUESTION_CLOSED as CLOSED_STATES
from workflows.states import QuestionState
from workflows.text.fold import fold_words
from workflows.text.hold_commands import read_hold_command
from workflows.text.phrasings import read_phrasing

# What a reviewer may write on a question when they meant a command, not an answer.
_NOT_AN_ANSWER = frozenset("aide help approuver valider valide refuser completer ok vu".split())


def _is_a_command(answer: str) -> bool:
    """« APPROUVER », « Ok pour moi », « Je valide, merci » alone: an approval meant for a
    subscription or a preview, never the text of an answer to mail and publish."""
    if fold_words(answer) in _NOT_AN_ANSWER:
        return True
    if "\n" in answer:
        return False
    phrasing = read_phrasing(answer)
    return phrasing is not None and phrasing.verb in ("APPROUVER", "AIDE")


def on_reviewer(case: CaseView, event: ReviewerReply, ctx: Context) -> Decision:
    log = [
        LogLine(
            "reviewer_reply",
            {"by": event.reviewer, "directives": ";".join(event.directives) or "-"},
        )
    ]
    answer = event.new_text.strip()
    verb = event.command.verb if event.command is not None else None
    if verb == "AIDE" or fold_words(answer) in ("aide", "help"):
        return _help(case, event, ctx, None, log)
    if case.state == QuestionState.HELD:
        return question_hold.on_held_reply(case, event, ctx, log)
    if case.state == QuestionState.ANSWERED:
        return question_after.on_after(case, event, ctx, log)
    if case.state != QuestionState.OPEN:
        pending = question_record(case).pending
        if pending is not None and pending.by == event.reviewer:  # their own answer, going out
            return _help(case, event, ctx, "hold_over", log)
        return _already_answered(case, event, ctx, log)
    command = read_hold_command(answer, strict=True)
    if command is not None and command.verb != "CLASSER":
        return _help(case, event, ctx, "nothing_held", log)
    if command is None and (verb is not None or _is_a_command(answer)):
        return _help(case, event, ctx, "command_on_question", log)
    found = question_hold.directives_of(event.directives)
    data = question_record(case)
    if "transfer" in found and command is None and not found["out_of_scope"]:
        return _transfer(case, event, ctx, data, found["transfer"], answer, log)
    text = command.text if command is not None else answer
    prepared = question_hold.prepare(case, event, ctx, data, text, close=command is not None)
    if isinstance(prepared, tuple):
        return _help(case, event, ctx, prepared[0], log, value=prepared[1])
    return question_hold.submit(case, event, ctx, data, prepared, log)


def redirect(
    case: CaseView,
    ctx: Context,
    data: QuestionRecord,
    log: list[LogLine],
) -> Decision:
    """HORS PÉRIMÈTRE decided automatically (`auto_redirect_out_of_scope`): the asker is sent
    to CEREMA at once; nothing is published."""
    mail = cerema_mail(case, ctx, data, None, automatic=True)
    data = record_answer(data, None, ctx, None, "redirected")
    log.append(LogLine("redirected_cerema", {"auto": True, "by": "auto"}))
    return finish(case, QuestionState.ANSWERED, CLOSED_STATES, data=data, effects=[mail], log=log)


def _transfer(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    group: str,
    note: str,
    log: list[LogLine],
) -> Decision:
    if group not in ctx.groups:
        return _help(case, event, ctx, "unknown_group", log, value=group)
    transfer = Transfer(at=iso(ctx.now), by=event.reviewer, from_group=case.group, to=group)
    data = replace(data, transfers=(*data.transfers, transfer))
    space = space_of_group(ctx, group) or case.space
    confirmed = _confirmation(case, event, ctx, "transfer", group=group)
    log.append(LogLine("transferred", {"from": case.group, "to": group, "by": event.reviewer}))
    extra = {
        "transfer_note": note or None,
        "transferred_by": event.reviewer,
        "from_group": case.group,
    }
    return route(case, ctx, data, group, space, "transferred", [confirmed], log, extra=extra)


def on_published(case: CaseView, event: Published, ctx: Context) -> Decision:
    data = question_record(case)
    pending = data.pending
    if case.state != QuestionState.PUBLISHING or not pending:
        return ignored(case, CLOSED_STATES, "published_ignored", state=case.state)
    space = pending.space
    # PUBLIER after RETIRER (workflows.question_after): online again, the asker not re-mailed
    republished = data.withdrawn_at is not None and not pending.correction
    key = f"correction:{event.version}" if pending.correction else f"answer:{data.round}"
    mail = answer_mail(
        case,
        data,
        pending.mail_answer,
        event.url,
        event.version,
        space,
        key=key,
        corrected=pending.correction,
    )
    publication = Publication(
        space=space, version=event.version, url=event.url, at=iso(ctx.now), by=pending.by
    )
    data = replace(
        data,
        pending=None,
        publications=(*data.publications, publication),
        published_question_text=pending.question,
        published_answer=pending.answer,
        withdrawn_at=None,
    )
    outcome = "corrected" if pending.correction else "published"
    data = record_answer(data, pending.by, ctx, pending.mail_answer, outcome)
    if pending.held:
        confirmed = released_notice(
            case, ctx, pending, outcome, url=event.url, version=event.version
        )
    else:
        confirmed = _published_confirmation(case, ctx, pending, event)
    log = [
        LogLine(
            "answer_corrected" if pending.correction else "answer_published",
            {"space": space, "version": event.version, "url": event.url},
        ),
    ]
    effects = [confirmed] if republished else [mail, confirmed]
    if not republished:
        log.append(LogLine("answer_mailed", {"to": case.requester, "published": True}))
    return finish(case, QuestionState.ANSWERED, CLOSED_STATES, data=data, effects=effects, log=log)


def _published_confirmation(
    case: CaseView, ctx: Context, pending: PendingAnswer, event: Published
) -> SendMail:
    """The confirmation of an answer published at once (`publish_delay_minutes = 0`)."""
    return reviewer_mail(
        "review_confirmation",
        case,
        pending.by,
        pending.reviewer_message_id,
        pending.reviewer_references,
        ctx,
        "confirm:published",
        pending.notes,
        action="published",
        url=event.url,
        version=event.version,
        space_label=space_label(pending.space),
        published_question=pending.question,
        published_answer=pending.answer,
    )


def _confirmation(
    case: CaseView, event: ReviewerReply, ctx: Context, action: str, **context: Any
) -> SendMail:
    # Keyed by action (the subscription workflow's are not): kept as they are, since the keys
    # of mails already in an outbox must not change.
    return confirmation(case, event, ctx, action, f"confirm:{action}", **context)


def _help(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    problem: str | None,
    log: list[LogLine],
    value: str | None = None,
) -> Decision:
    return question_help(case, event, ctx, problem, log, value)


def _already_answered(
    case: CaseView, event: ReviewerReply, ctx: Context, log: list[LogLine]
) -> Decision:
    data = question_record(case)
    last = data.answers[-1] if data.answers else None
    pending = data.pending
    publishing = case.state == QuestionState.PUBLISHING
    return already_decided_reply(
        case,
        event,
        ctx,
        CLOSED_STATES,
        "already_answered",
        log,
        outcome="publishing" if publishing else (last.outcome if last else None),
        decided_by=(pending.by if pending else None) or (last.by if last else None),
        decided_at=(pending.at if pending else None) or (last.at if last else None),
        url=data.publications[-1].url if data.publications else None,
    )
